import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../src/errors.js';
import { conninfoArrayParse, type ConnInfoPair } from '../../../src/conn/conninfo-defaults.js';
import type { LibpqEnvironment } from '../../../src/conn/libpq-environment.js';
import { resolveConnInfo } from '../../../src/conn/resolve.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgbb-resolve-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function environment(env: NodeJS.ProcessEnv = {}, over: Partial<LibpqEnvironment> = {}): LibpqEnvironment {
  return { env, homeDir: join(dir, 'nohome'), osUser: 'osuser', defaultSocketDir: '/var/run/postgresql', sysconfDir: join(dir, 'nosys'), warn: () => undefined, ...over };
}

const resolve = (pairs: ConnInfoPair[], env: NodeJS.ProcessEnv = {}, over: Partial<LibpqEnvironment> = {}) =>
  resolveConnInfo(pairs, environment(env, over), { expandDbname: true });

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectionError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('precedence: keywords, then service file, then environment, then compiled defaults', () => {
  it('fills defaults as libpq does', () => {
    const { values, hosts } = resolve([]);
    expect(values.get('user')).toBe('osuser');
    expect(values.get('dbname')).toBe('osuser');
    expect(values.get('port')).toBe('5432');
    expect(values.get('sslmode')).toBe('prefer');
    expect(values.get('channel_binding')).toBe('prefer');
    expect(values.get('passfile')).toBe(join(dir, 'nohome', '.pgpass'));
    expect(hosts).toEqual([{ host: '/var/run/postgresql', hostaddr: undefined, port: '5432', type: 'socket', pgpassPassword: undefined }]);
  });

  it('lets later pairs override earlier ones and skips empty values', () => {
    const { values } = resolve([['host', 'a'], ['host', 'b'], ['port', ''], ['user', undefined]], { PGPORT: '6000', PGUSER: 'envuser' });
    expect(values.get('host')).toBe('b');
    expect(values.get('port')).toBe('6000');
    expect(values.get('user')).toBe('envuser');
  });

  it('prefers the service file over the environment, and explicit keywords over both', () => {
    const svc = join(dir, 'svc.conf');
    writeFileSync(svc, '[s]\nhost=svc-host\nport=7000\nuser=svcuser\n');
    const { values } = resolve([['service', 's'], ['user', 'explicit']], { PGSERVICEFILE: svc, PGHOST: 'env-host', PGPORT: '8000', PGAPPNAME: 'envapp' });
    expect(values.get('host')).toBe('svc-host');
    expect(values.get('port')).toBe('7000');
    expect(values.get('user')).toBe('explicit');
    expect(values.get('application_name')).toBe('envapp');
  });

  it('treats an empty PGHOST as the default socket directory and an empty PGPORT as 5432', () => {
    const { hosts } = resolve([], { PGHOST: '', PGPORT: '' });
    expect(hosts[0]).toMatchObject({ host: '/var/run/postgresql', type: 'socket', port: undefined });
  });

  it('reads PGREQUIRESSL only when PGSSLMODE is absent', () => {
    expect(resolve([], { PGREQUIRESSL: '1' }).values.get('sslmode')).toBe('require');
    expect(resolve([], { PGREQUIRESSL: '1', PGSSLMODE: 'disable' }).values.get('sslmode')).toBe('disable');
    expect(resolve([], { PGREQUIRESSL: '0' }).values.get('sslmode')).toBe('prefer');
  });

  it('strengthens a defaulted sslmode to verify-full for sslrootcert=system, but never an explicit one', () => {
    expect(resolve([['sslrootcert', 'system']]).values.get('sslmode')).toBe('verify-full');
    expect(resolve([], { PGSSLROOTCERT: 'system' }).values.get('sslmode')).toBe('verify-full');
    expect(errorOf(() => resolve([['sslrootcert', 'system'], ['sslmode', 'require']]))).toBe(
      'weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")',
    );
  });
});

describe('expand_dbname', () => {
  it('expands only the first dbname that looks like a connection string', () => {
    const values = conninfoArrayParse([['host', 'before'], ['dbname', 'host=inner port=1 dbname=real'], ['port', '2'], ['dbname', 'user=x']], true);
    expect(Object.fromEntries(values)).toEqual({ host: 'inner', port: '2', dbname: 'user=x' });
  });

  it('takes a plain first dbname literally and expands nothing later', () => {
    const values = conninfoArrayParse([['dbname', 'replication'], ['dbname', 'host=x']], true);
    expect(Object.fromEntries(values)).toEqual({ dbname: 'host=x' });
  });

  it('does not expand without expand_dbname', () => {
    expect(conninfoArrayParse([['dbname', 'postgresql://h/db']], false).get('dbname')).toBe('postgresql://h/db');
  });

  it('rejects unknown keywords', () => {
    expect(errorOf(() => conninfoArrayParse([['bogus', '1']], false))).toBe('invalid connection option "bogus"');
  });
});

describe('host lists', () => {
  it('splits hosts and applies a single port to all of them', () => {
    const { hosts } = resolve([['host', 'a,/sock,@abstract,'], ['port', '5433']]);
    expect(hosts.map((h) => [h.host, h.type, h.port])).toEqual([
      ['a', 'name', '5433'],
      ['/sock', 'socket', '5433'],
      ['@abstract', 'socket', '5433'],
      ['/var/run/postgresql', 'socket', '5433'],
    ]);
  });

  it('pairs ports with hosts, empty entries meaning 5432', () => {
    const { hosts } = resolve([['host', 'a,b'], ['port', ',6']]);
    expect(hosts.map((h) => h.port)).toEqual(['', '6']);
  });

  it('lets hostaddr decide the number of entries', () => {
    const { hosts } = resolve([['hostaddr', '10.0.0.1,10.0.0.2'], ['host', 'x,']]);
    expect(hosts.map((h) => [h.host, h.hostaddr, h.type])).toEqual([
      ['x', '10.0.0.1', 'address'],
      ['', '10.0.0.2', 'address'],
    ]);
  });

  it.each<[ConnInfoPair[], string]>([
    [[['host', 'a,b,c'], ['port', '1,2']], 'could not match 2 port numbers to 3 hosts'],
    [[['host', 'a'], ['port', '1,2']], 'could not match 2 port numbers to 1 hosts'],
    [[['hostaddr', '1.2.3.4,5.6.7.8'], ['host', 'a,b,c']], 'could not match 3 host names to 2 hostaddr values'],
  ])('%j', (pairs, message) => {
    expect(errorOf(() => resolve(pairs))).toBe(message);
  });

  it('shuffles hosts for load_balance_hosts=random', () => {
    const { hosts } = resolveConnInfo([['host', 'a,b,c'], ['load_balance_hosts', 'random']], environment(), { expandDbname: false, random: () => 0 });
    // inside-out Fisher-Yates with j = 0 every time: [a,b,c] → [b,a,c] → [c,a,b]
    expect(hosts.map((h) => h.host)).toEqual(['c', 'a', 'b']);
  });
});

describe('password file lookup per host', () => {
  it('looks up each host with the database name sent and skips it when a password is given', () => {
    const pgpass = join(dir, 'pgpass');
    writeFileSync(pgpass, ['a:5432:replication:u:pa', 'localhost:5432:replication:u:local', 'b:5432:postgres:u:wrongdb'].join('\n'));
    chmodSync(pgpass, 0o600);
    const pairs: ConnInfoPair[] = [['host', 'a,,b'], ['user', 'u'], ['dbname', 'replication']];
    const { hosts } = resolve(pairs, { PGPASSFILE: pgpass });
    expect(hosts.map((h) => h.pgpassPassword)).toEqual(['pa', 'local', undefined]);
    const withPassword = resolve([...pairs, ['password', 'given']], { PGPASSFILE: pgpass });
    expect(withPassword.hosts.map((h) => h.pgpassPassword)).toEqual([undefined, undefined, undefined]);
    expect(withPassword.values.get('passfile')).toBe(pgpass);
  });

  it('sets passfile to ~/.pgpass only when no password is given', () => {
    expect(resolve([['password', 'x']]).values.has('passfile')).toBe(false);
    expect(resolve([], {}, { homeDir: undefined }).values.has('passfile')).toBe(false);
  });
});

describe('value checks (libpq texts)', () => {
  it.each<[ConnInfoPair[], string]>([
    [[['sslmode', 'bogus']], 'invalid sslmode value: "bogus"'],
    [[['channel_binding', 'maybe']], 'invalid channel_binding value: "maybe"'],
    [[['gssencmode', 'x']], 'invalid gssencmode value: "x"'],
    [[['gssencmode', 'require']], 'gssencmode value "require" invalid when GSSAPI support is not compiled in'],
    [[['target_session_attrs', 'rw']], 'invalid target_session_attrs value: "rw"'],
    [[['load_balance_hosts', 'yes']], 'invalid load_balance_hosts value: "yes"'],
    [[['sslcertmode', 'x']], 'invalid sslcertmode value: "x"'],
    [[['sslnegotiation', 'x']], 'invalid sslnegotiation value: "x"'],
    [[['sslnegotiation', 'direct']], 'weak sslmode "prefer" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")'],
    [[['ssl_min_protocol_version', 'TLSv2']], 'invalid "ssl_min_protocol_version" value: "TLSv2"'],
    [[['ssl_max_protocol_version', 'x']], 'invalid "ssl_max_protocol_version" value: "x"'],
    [[['ssl_min_protocol_version', 'TLSv1.3'], ['ssl_max_protocol_version', 'TLSv1.2']], 'invalid SSL protocol version range'],
    [[['require_auth', 'md5,!password']], 'negative require_auth method "!password" cannot be mixed with non-negative methods'],
    [[['require_auth', '!md5,password']], 'require_auth method "password" cannot be mixed with negative methods'],
    [[['require_auth', 'md5,md5']], 'require_auth method "md5" is specified more than once'],
    [[['require_auth', 'kerberos']], 'invalid require_auth value: "kerberos"'],
  ])('%j', (pairs, message) => {
    expect(errorOf(() => resolve(pairs))).toBe(message);
  });

  it('checks channel_binding before sslmode, as libpq does', () => {
    expect(errorOf(() => resolve([['sslmode', 'x'], ['channel_binding', 'y']]))).toBe('invalid channel_binding value: "y"');
  });

  it('accepts TLS versions case-insensitively and a valid range', () => {
    const { values } = resolve([['ssl_min_protocol_version', 'tlsv1.2'], ['ssl_max_protocol_version', 'TLSv1.3']]);
    expect(values.get('ssl_min_protocol_version')).toBe('tlsv1.2');
  });

  it('refuses options it cannot honour instead of ignoring them', () => {
    expect(errorOf(() => resolve([['sslcrl', '/x.crl']]))).toBe('connection option sslcrl="/x.crl" is not supported by this client');
    expect(errorOf(() => resolve([['require_auth', 'scram-sha-256']]))).toBe('connection option require_auth="scram-sha-256" is not supported by this client');
  });
});
