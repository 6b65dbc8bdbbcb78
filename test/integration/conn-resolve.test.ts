/**
 * Connection resolution against real servers: every way of naming the server (keyword/value, URI,
 * -h/-p, PGHOST lists, .pgpass, service files) ends in a working replication connection on 15 and 18
 * (IDENTIFY_SYSTEM returns the cluster's system identifier), and failures give libpq's texts
 * (compared with the installed psql where it is available).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionFactory, type ConnectionSettings } from '../../src/conn/connect.js';
import { ConnectionError } from '../../src/errors.js';
import { identifySystem } from '../../src/protocol/commands.js';
import type { PgConnection } from '../../src/protocol/connection.js';
import { PgCluster, systemTool, type Major } from '../support/pg-cluster.js';

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'pgbb-conn-home-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function factory(settings: Partial<ConnectionSettings>, env: NodeJS.ProcessEnv = {}, prompts: string[] = []) {
  const prompted: string[] = [];
  const f = new ConnectionFactory(
    { passwordMode: 'never', replication: 'true', fallbackApplicationName: 'pg_basebackup', ...settings },
    {
      env,
      homeDir: home,
      promptPassword: async (p) => {
        prompted.push(p);
        const a = prompts.shift();
        if (a === undefined) throw new Error('unexpected prompt');
        return a;
      },
    },
  );
  return { f, prompted };
}

async function systemIdOver(f: ConnectionFactory): Promise<string> {
  const conn: PgConnection = await f.connect();
  try {
    return (await identifySystem(conn)).systemId;
  } finally {
    await conn.close();
  }
}

async function failure(f: ConnectionFactory): Promise<string> {
  try {
    const conn = await f.connect();
    await conn.close();
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectionError);
    return (e as Error).message;
  }
  throw new Error('connected unexpectedly');
}

let n = 0;
function privateFile(contents: string, mode = 0o600): string {
  const f = join(home, `file-${n++}`);
  writeFileSync(f, contents);
  chmodSync(f, mode);
  return f;
}

/** What psql (Debian's libpq 15) prints for a failed connection, without "psql: error: ". */
function psqlError(conninfo: string, env: NodeJS.ProcessEnv = {}): string | undefined {
  const psql = systemTool('psql');
  if (psql === undefined) return undefined;
  const r = spawnSync(psql, ['-X', '-w', '-c', 'IDENTIFY_SYSTEM', conninfo], { env: { PATH: process.env['PATH'], HOME: home, LC_ALL: 'C', ...env }, encoding: 'utf8' });
  return r.stderr.replace(/^psql: error: /, '').replace(/\n$/, '');
}

describe.each<Major>([15, 18])('PostgreSQL %i', (major) => {
  let c: PgCluster;
  let systemId: string;
  beforeAll(async () => {
    c = await PgCluster.start({ major, auth: 'scram-sha-256' });
    const rows = await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    systemId = rows[0]?.id ?? '';
  });
  afterAll(async () => c?.destroy());

  it('-d keyword/value', async () => {
    const { f } = factory({ connInfo: `host=127.0.0.1 port=${c.port} user=postgres password='${c.password}'` });
    expect(await systemIdOver(f)).toBe(systemId);
  });

  it('-d URI with percent-encoded socket directory', async () => {
    const { f } = factory({ connInfo: `postgresql://postgres@${encodeURIComponent(c.socketDir)}:${c.port}/` });
    expect(await systemIdOver(f)).toBe(systemId);
    const tcp = factory({ connInfo: `postgresql://postgres:${encodeURIComponent(c.password)}@127.0.0.1:${c.port}?application_name=uri` });
    expect(await systemIdOver(tcp.f)).toBe(systemId);
  });

  it('-h/-p/-U over the unix socket', async () => {
    const { f } = factory({ host: c.socketDir, port: String(c.port), user: 'postgres' });
    expect(await systemIdOver(f)).toBe(systemId);
  });

  it('a PGHOST list whose first host is dead', async () => {
    const env = { PGHOST: `/nonexistent-pgbb,127.0.0.1`, PGPORT: String(c.port), PGUSER: 'postgres', PGPASSWORD: c.password };
    expect(await systemIdOver(factory({}, env).f)).toBe(systemId);
  });

  it('a .pgpass entry for the "replication" database', async () => {
    const passFile = privateFile(`127.0.0.1:${c.port}:postgres:postgres:wrong\n127.0.0.1:${c.port}:replication:postgres:${c.password}\n`);
    const { f } = factory({ host: '127.0.0.1', port: String(c.port), user: 'postgres' }, { PGPASSFILE: passFile });
    expect(await systemIdOver(f)).toBe(systemId);
  });

  it('a service file', async () => {
    const svc = privateFile(`[pgbb]\nhost=127.0.0.1\nport=${c.port}\nuser=postgres\n`);
    const { f } = factory({ connInfo: 'service=pgbb' }, { PGSERVICEFILE: svc, PGPASSWORD: c.password });
    expect(await systemIdOver(f)).toBe(systemId);
  });

  it('prompts when the server asks for a password, then reuses it', async () => {
    const { f, prompted } = factory({ host: '127.0.0.1', port: String(c.port), user: 'postgres', passwordMode: 'auto' }, {}, [c.password]);
    expect(await systemIdOver(f)).toBe(systemId);
    expect(await systemIdOver(f)).toBe(systemId);
    expect(prompted).toEqual(['Password: ']);
  });

  it('a wrong password: the server\'s error, no prompt', async () => {
    const { f, prompted } = factory({ connInfo: `host=127.0.0.1 port=${c.port} user=postgres password=wrong`, passwordMode: 'auto' });
    expect(await failure(f)).toBe(`connection to server at "127.0.0.1", port ${c.port} failed: FATAL:  password authentication failed for user "postgres"`);
    expect(prompted).toEqual([]);
  });

  it('no password with -w: fe_sendauth: no password supplied', async () => {
    const passFile = privateFile(`*:*:postgres:postgres:${c.password}\n`); // not for "replication"
    const { f } = factory({ host: '127.0.0.1', port: String(c.port), user: 'postgres' }, { PGPASSFILE: passFile });
    expect(await failure(f)).toBe(`connection to server at "127.0.0.1", port ${c.port} failed: fe_sendauth: no password supplied`);
  });
});

describe('error texts compared with libpq (psql)', () => {
  let c: PgCluster;
  beforeAll(async () => {
    c = await PgCluster.start({ major: 16, auth: 'scram-sha-256' });
  });
  afterAll(async () => c?.destroy());

  it.each<[string, (port: number, pw: string) => string]>([
    ['wrong password', (port) => `host=127.0.0.1 port=${port} user=postgres password=wrong dbname=replication replication=true`],
    ['no password', (port) => `host=127.0.0.1 port=${port} user=postgres dbname=replication replication=true`],
    ['every host dead', () => `host=/nonexistent-pgbb,127.0.0.1 port=1 user=postgres dbname=replication replication=true`],
    ['port count mismatch', (port) => `host=a,b,c port=${port},1 dbname=replication replication=true`],
    ['bad sslmode', (port) => `host=127.0.0.1 port=${port} sslmode=sometimes dbname=replication replication=true`],
    ['unterminated quote', () => `host='127.0.0.1`],
    ['target_session_attrs=read-only on a primary', (port, pw) => `host=127.0.0.1 port=${port} user=postgres password=${pw} target_session_attrs=read-only dbname=replication replication=true`],
    ['target_session_attrs=standby on a primary (socket)', (port) => `host=${c.socketDir} port=${port} user=postgres target_session_attrs=standby dbname=replication replication=true`],
  ])('%s', async (_name, conninfo) => {
    const text = conninfo(c.port, c.password);
    const expected = psqlError(text);
    if (expected === undefined) return; // no psql here: the per-case texts above are still tested
    const ours = await (async () => {
      try {
        return await failure(factory({ connInfo: text }).f);
      } catch (e) {
        expect(e).toBeInstanceOf(ConnectionError);
        return (e as Error).message;
      }
    })();
    expect(ours).toBe(expected);
  });
});
