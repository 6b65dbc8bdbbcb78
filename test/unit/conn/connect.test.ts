import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, PgBasebackupError } from '../../../src/errors.js';
import { ConnectionFactory, type ConnectionSettings } from '../../../src/conn/connect.js';
import { connectFailure, NO_PASSWORD_SUPPLIED } from '../../../src/protocol/connect-errors.js';
import type { ConnectAttempt } from '../../../src/protocol/types.js';

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'pgbb-connect-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

interface FakeConn {
  host: string;
  port: number;
  password: string | undefined;
  serverVersionNum: number;
}

const REFUSED_TEXT = (a: ConnectAttempt) =>
  `connection to server at "${a.host}", port ${a.port} failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?`;
const REFUSED = (a: ConnectAttempt) => connectFailure(REFUSED_TEXT(a), { beforeServerResponse: true });

type Behaviour = (a: ConnectAttempt, password: string | undefined) => Error | undefined;

/** An opener that records attempts and fails according to `behave` (keyed by host). */
function fakeServers(behave: Record<string, Behaviour>, serverVersionNum = 150018) {
  const calls: { host: string; port: number; database: string; user: string; password: string | undefined }[] = [];
  const opener = async (a: ConnectAttempt): Promise<FakeConn> => {
    const password = await a.getPassword();
    calls.push({ host: a.host, port: a.port, database: a.database, user: a.user, password });
    const err = (behave[a.host] ?? REFUSED)(a, password);
    if (err) throw err;
    return { host: a.host, port: a.port, password, serverVersionNum };
  };
  return { calls, opener };
}

/** A server that wants `expected` as password. */
const wantsPassword =
  (expected: string): Behaviour =>
  (a, password) => {
    const prefix = `connection to server at "${a.host}", port ${a.port} failed: `;
    if (password === undefined) return connectFailure(prefix + NO_PASSWORD_SUPPLIED, { passwordNeeded: true });
    if (password !== expected) {
      return connectFailure(`${prefix}FATAL:  password authentication failed for user "${a.user}"`, { sqlState: '28P01' });
    }
    return undefined;
  };
const accepts: Behaviour = () => undefined;

function factory(settings: Partial<ConnectionSettings>, opener: (a: ConnectAttempt) => Promise<FakeConn>, extra: { env?: NodeJS.ProcessEnv; prompts?: string[] } = {}) {
  const prompted: string[] = [];
  const answers = [...(extra.prompts ?? [])];
  const f = new ConnectionFactory<FakeConn>(
    { passwordMode: 'auto', replication: 'true', fallbackApplicationName: 'pg_basebackup', ...settings },
    {
      opener,
      env: extra.env ?? {},
      homeDir: home,
      environment: { osUser: 'tester', defaultSocketDir: '/run/pg' },
      promptPassword: async (p) => {
        prompted.push(p);
        const answer = answers.shift();
        if (answer === undefined) throw new Error('unexpected prompt');
        return answer;
      },
    },
  );
  return { f, prompted };
}

async function failureOf(p: Promise<unknown>): Promise<ConnectionError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectionError);
    return e as ConnectionError;
  }
  throw new Error('connect() succeeded');
}

describe('the host loop', () => {
  it('tries hosts in order and returns the first that accepts', async () => {
    const { calls, opener } = fakeServers({ c: accepts });
    const { f } = factory({ host: 'a,b,c', port: '5433' }, opener);
    const conn = await f.connect();
    expect(conn.host).toBe('c');
    expect(calls.map((c) => c.host)).toEqual(['a', 'b', 'c']);
    expect(calls.every((c) => c.port === 5433 && c.database === 'replication' && c.user === 'tester')).toBe(true);
  });

  it('joins every host error with newlines when all fail', async () => {
    const { opener } = fakeServers({});
    const { f } = factory({ host: 'a,b' }, opener);
    const err = await failureOf(f.connect());
    expect(err.message).toBe(
      'connection to server at "a", port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n' +
        'connection to server at "b", port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?',
    );
  });

  it('stops at a server that rejected the connection', async () => {
    const fatal: Behaviour = (a) => connectFailure(`connection to server at "${a.host}", port ${a.port} failed: FATAL:  role "tester" does not exist`, { sqlState: '28000' });
    const { calls, opener } = fakeServers({ a: fatal, b: accepts });
    const { f } = factory({ host: 'a,b' }, opener);
    const err = await failureOf(f.connect());
    expect(err.message).toBe('connection to server at "a", port 5432 failed: FATAL:  role "tester" does not exist');
    expect(calls.map((c) => c.host)).toEqual(['a']);
  });

  it('moves on after "the database system is starting up" (57P03)', async () => {
    const starting: Behaviour = (a) => connectFailure(`connection to server at "${a.host}", port ${a.port} failed: FATAL:  the database system is starting up`, { sqlState: '57P03' });
    const { calls, opener } = fakeServers({ a: starting, b: accepts });
    const { f } = factory({ host: 'a,b' }, opener);
    expect((await f.connect()).host).toBe('b');
    expect(calls.map((c) => c.host)).toEqual(['a', 'b']);
  });

  it('reports an out-of-range port and moves on; stops at a port that is not a number', async () => {
    const { calls, opener } = fakeServers({ b: accepts });
    expect((await factory({ host: 'a,b', port: '70000,5' }, opener).f.connect()).host).toBe('b');
    expect(calls.map((c) => c.host)).toEqual(['b']);
    const failing = fakeServers({});
    const err = await failureOf(factory({ host: 'a,b', port: '1,x' }, failing.opener).f.connect());
    expect(err.message).toBe(
      'connection to server at "a", port 1 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n' +
        'invalid integer value "x" for connection option "port"',
    );
  });

  it('surfaces resolution errors with libpq\'s text', async () => {
    const { opener } = fakeServers({});
    const err = await failureOf(factory({ host: 'a,b,c', port: '1,2' }, opener).f.connect());
    expect(err.message).toBe('could not match 2 port numbers to 3 hosts');
    const bad = factory({ connInfo: "host='x" }, opener).f;
    expect((await failureOf(bad.connect())).message).toBe('unterminated quoted string in connection info string');
  });

  it('without the beforeServerResponse flag, recognises libpq\'s "no server answered" texts', async () => {
    const bare: Behaviour = (a) => Object.assign(new ConnectionError(REFUSED_TEXT(a)), { passwordNeeded: false });
    const dns: Behaviour = (a) => new ConnectionError(`could not translate host name "${a.host}" to address: Name or service not known`);
    const { calls, opener } = fakeServers({ a: bare, b: dns, c: accepts });
    expect((await factory({ host: 'a,b,c' }, opener).f.connect()).host).toBe('c');
    expect(calls.map((c) => c.host)).toEqual(['a', 'b', 'c']);
  });

  it('trusts beforeServerResponse: false even for a familiar text', async () => {
    const odd: Behaviour = (a) => connectFailure(REFUSED_TEXT(a), { beforeServerResponse: false });
    const { calls, opener } = fakeServers({ a: odd, b: accepts });
    await failureOf(factory({ host: 'a,b' }, opener).f.connect());
    expect(calls.map((c) => c.host)).toEqual(['a']);
  });

  it('stops on an AbortSignal', async () => {
    const { calls, opener } = fakeServers({ a: accepts });
    const ac = new AbortController();
    ac.abort();
    await expect(factory({ host: 'a' }, opener).f.connect({ signal: ac.signal })).rejects.toSatisfy(
      (e: unknown) => e instanceof PgBasebackupError && e.code === 'PGBB_ABORTED',
    );
    expect(calls).toEqual([]);
  });
});

describe('passwords', () => {
  it('prompts when the server needs a password, retries from the first host, and reuses the password', async () => {
    const { calls, opener } = fakeServers({ a: wantsPassword('sekrit') });
    const { f, prompted } = factory({ host: 'a' }, opener, { prompts: ['sekrit'] });
    expect((await f.connect()).password).toBe('sekrit');
    expect(prompted).toEqual(['Password: ']);
    expect(calls.map((c) => c.password)).toEqual([undefined, 'sekrit']);
    await f.connect(); // the WAL streaming connection
    expect(prompted).toHaveLength(1);
    expect(calls.at(-1)?.password).toBe('sekrit');
    expect(f.password).toBe('sekrit');
  });

  it('prompts again while the answer is empty (libpq treats "" as no password)', async () => {
    const { opener } = fakeServers({ a: wantsPassword('pw') });
    const { f, prompted } = factory({ host: 'a' }, opener, { prompts: ['', 'pw'] });
    await f.connect();
    expect(prompted).toEqual(['Password: ', 'Password: ']);
  });

  it('never prompts with -w', async () => {
    const { calls, opener } = fakeServers({ a: wantsPassword('pw') });
    const { f, prompted } = factory({ host: 'a', passwordMode: 'never' }, opener);
    const err = await failureOf(f.connect());
    expect(err.message).toBe('connection to server at "a", port 5432 failed: fe_sendauth: no password supplied');
    expect(prompted).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('prompts once before connecting with -W', async () => {
    const { calls, opener } = fakeServers({ a: wantsPassword('pw') });
    const { f, prompted } = factory({ host: 'a', passwordMode: 'always' }, opener, { prompts: ['pw'] });
    await f.connect();
    await f.connect();
    expect(prompted).toEqual(['Password: ']);
    expect(calls.map((c) => c.password)).toEqual(['pw', 'pw']);
  });

  it('does not prompt after a wrong password', async () => {
    const { opener } = fakeServers({ a: wantsPassword('right') });
    const { f, prompted } = factory({ host: 'a', connInfo: 'password=wrong' }, opener);
    const err = await failureOf(f.connect());
    expect(err.message).toBe('connection to server at "a", port 5432 failed: FATAL:  password authentication failed for user "tester"');
    expect(prompted).toEqual([]);
  });

  it('uses .pgpass per host, and names the file when its password is rejected', async () => {
    const passFile = join(home, 'pgpass');
    writeFileSync(passFile, 'a:5432:replication:tester:right\nb:5432:replication:tester:stale\n');
    chmodSync(passFile, 0o600);
    const { calls, opener } = fakeServers({ a: wantsPassword('right'), b: wantsPassword('right') });
    const env = { PGPASSFILE: passFile };
    expect((await factory({ host: 'a' }, opener, { env }).f.connect()).password).toBe('right');
    const err = await failureOf(factory({ host: 'b' }, opener, { env }).f.connect());
    expect(err.message).toBe(`connection to server at "b", port 5432 failed: FATAL:  password authentication failed for user "tester"\npassword retrieved from file "${passFile}"`);
    expect(calls.map((c) => c.password)).toEqual(['right', 'stale']);
  });

  it('prefers PGPASSWORD to .pgpass', async () => {
    const { calls, opener } = fakeServers({ a: accepts });
    await factory({ host: 'a' }, opener, { env: { PGPASSWORD: 'fromenv' } }).f.connect();
    expect(calls[0]?.password).toBe('fromenv');
  });
});

describe('what pg_basebackup adds to -d', () => {
  it('lets -h/-p/-U override -d and replaces its dbname with "replication" (pg 15/16)', async () => {
    const { calls, opener } = fakeServers({ h2: accepts });
    await factory({ connInfo: 'host=h1 port=1 user=u1 dbname=mydb', host: 'h2', port: '2', user: 'u2' }, opener).f.connect();
    expect(calls).toEqual([{ host: 'h2', port: 2, database: 'replication', user: 'u2', password: undefined }]);
  });

  it('keeps an explicit dbname from -d with keepExplicitDbname (pg 17+)', async () => {
    const { calls, opener } = fakeServers({ h: accepts });
    await factory({ connInfo: 'postgresql://h/mydb', keepExplicitDbname: true }, opener).f.connect();
    await factory({ connInfo: 'postgresql://h', keepExplicitDbname: true }, opener).f.connect();
    expect(calls.map((c) => c.database)).toEqual(['mydb', 'replication']);
  });

  it('sends replication, fallback_application_name and the default socket directory', () => {
    const { attempts } = factory({}, fakeServers({}).opener).f.resolve();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      host: '/run/pg',
      isUnixSocket: true,
      port: 5432,
      replication: 'true',
      fallbackApplicationName: 'pg_basebackup',
      database: 'replication',
      sslMode: 'prefer',
      channelBinding: 'prefer',
    });
  });
});

describe('recoveryConnInfo', () => {
  it('is refused before a connection was made', () => {
    const { f } = factory({ host: 'a' }, fakeServers({}).opener);
    expect(() => f.recoveryConnInfo({ serverVersionNum: 150000 })).toThrow(PgBasebackupError);
  });

  it('lists the options in use in the vocabulary of the server\'s libpq', async () => {
    const { opener } = fakeServers({ '/tmp/s': accepts });
    const { f } = factory({ host: '/tmp/s', port: '55432', user: 'postgres' }, opener);
    await f.connect();
    const common = `user=postgres passfile='${home}/.pgpass' channel_binding=prefer host='/tmp/s' port=55432 sslmode=prefer`;
    expect(f.recoveryConnInfo({ serverVersionNum: 150018 })).toBe(
      `${common} sslcompression=0 sslsni=1 ssl_min_protocol_version=TLSv1.2 gssencmode=prefer krbsrvname=postgres target_session_attrs=any`,
    );
    expect(f.recoveryConnInfo({ serverVersionNum: 170000 })).toBe(
      `${common} sslnegotiation=postgres sslcompression=0 sslcertmode=allow sslsni=1 ssl_min_protocol_version=TLSv1.2 gssencmode=prefer krbsrvname=postgres gssdelegation=0 target_session_attrs=any load_balance_hosts=disable`,
    );
  });

  it('includes a given or prompted password unless asked not to, and the explicit dbname with keepExplicitDbname', async () => {
    const { opener } = fakeServers({ h: wantsPassword("it's") });
    const { f } = factory({ connInfo: 'host=h dbname=app application_name=standby1', keepExplicitDbname: true }, opener, { prompts: ["it's"] });
    await f.connect();
    const text = f.recoveryConnInfo({ serverVersionNum: 160000 });
    expect(text.startsWith("user=tester password='it\\'s' channel_binding=prefer host=h port=5432 application_name=standby1 ")).toBe(true);
    expect(text.endsWith(' load_balance_hosts=disable dbname=app')).toBe(true);
    expect(text).not.toContain('passfile');
    expect(f.recoveryConnInfo({ serverVersionNum: 160000 }, { includePassword: false })).not.toContain('password');
  });
});

describe('target_session_attrs', () => {
  /** Servers by host name: standby or primary; records opens and closes. */
  function cluster(kinds: Record<string, 'primary' | 'standby'>) {
    const log: string[] = [];
    const opener = async (a: ConnectAttempt) => {
      log.push(`open ${a.host}`);
      const kind = kinds[a.host];
      if (kind === undefined) throw REFUSED(a);
      const standby = kind === 'standby' ? 'on' : 'off';
      return {
        host: a.host,
        port: a.port,
        password: undefined,
        serverVersionNum: 160000,
        address: '10.0.0.1',
        parameters: new Map([['in_hot_standby', standby], ['default_transaction_read_only', 'off']]),
        close: async () => {
          log.push(`close ${a.host}`);
        },
      };
    };
    return { log, opener };
  }

  it('skips a standby for read-write, closing it, and reports why when nothing fits', async () => {
    const { log, opener } = cluster({ s1: 'standby', p1: 'primary' });
    expect((await factory({ connInfo: 'host=s1,p1 target_session_attrs=read-write' }, opener).f.connect()).host).toBe('p1');
    expect(log).toEqual(['open s1', 'close s1', 'open p1']);
    const only = cluster({ s1: 'standby' });
    const err = await failureOf(factory({ connInfo: 'host=s1 target_session_attrs=primary' }, only.opener).f.connect());
    expect(err.message).toBe('connection to server at "s1" (10.0.0.1), port 5432 failed: server is in hot standby mode');
  });

  it('prefer-standby takes a standby when there is one, else makes a second pass accepting any server', async () => {
    const both = cluster({ p1: 'primary', s1: 'standby' });
    expect((await factory({ connInfo: 'host=p1,s1 target_session_attrs=prefer-standby' }, both.opener).f.connect()).host).toBe('s1');
    const primaries = cluster({ p1: 'primary', p2: 'primary' });
    expect((await factory({ connInfo: 'host=p1,p2 target_session_attrs=prefer-standby' }, primaries.opener).f.connect()).host).toBe('p1');
    expect(primaries.log).toEqual(['open p1', 'close p1', 'open p2', 'close p2', 'open p1']);
  });

  it('read-only and standby accept only standbys here', async () => {
    const { opener } = cluster({ p1: 'primary', s1: 'standby' });
    expect((await factory({ connInfo: 'host=p1,s1 target_session_attrs=read-only' }, opener).f.connect()).host).toBe('s1');
    expect((await factory({ connInfo: 'host=p1,s1 target_session_attrs=standby' }, opener).f.connect()).host).toBe('s1');
  });
});
