/**
 * PgConnection.open() against real servers: authentication (trust, md5, SCRAM), TLS modes, channel
 * binding, and libpq's error texts (compared with psql 15 where its wording is the same).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerError } from '../../src/errors.js';
import { isConnectFailure } from '../../src/protocol/connect-errors.js';
import { PgConnection } from '../../src/protocol/connection.js';
import type { ConnectAttempt } from '../../src/protocol/types.js';
import { PgCluster, REPO_ROOT, removeTlsKeyFiles, systemTool, tlsKeyFile } from '../support/pg-cluster.js';

const TLS = join(REPO_ROOT, 'fixtures', 'tls');
let scram: PgCluster; // 17, scram-sha-256 over TCP, TLS on
let md5: PgCluster; // 15, md5 over TCP, no TLS
let home: string; // an empty home directory: no ~/.postgresql

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'pgbb-home-'));
  [scram, md5] = await Promise.all([
    PgCluster.start({
      major: 17,
      auth: 'scram-sha-256',
      ssl: true,
      // Roles that only one of TLS / plain lets in, to exercise prefer's and allow's retries.
      hba: ['hostssl all plainonly 127.0.0.1/32 reject', 'hostnossl all tlsonly 127.0.0.1/32 reject'],
    }),
    PgCluster.start({ major: 15, auth: 'md5' }),
  ]);
});

beforeAll(async () => {
  await scram.query(`CREATE ROLE plainonly LOGIN PASSWORD '${scram.password}'; CREATE ROLE tlsonly LOGIN PASSWORD '${scram.password}'`);
});

afterAll(async () => {
  removeTlsKeyFiles();
  await Promise.all([scram?.destroy(), md5?.destroy()]);
  rmSync(home, { recursive: true, force: true });
});

function tcp(c: PgCluster, over: Partial<ConnectAttempt> = {}): ConnectAttempt {
  return {
    host: '127.0.0.1',
    port: c.port,
    isUnixSocket: false,
    user: 'postgres',
    database: 'postgres',
    fallbackApplicationName: 'pg_basebackup',
    sslMode: 'prefer',
    channelBinding: 'prefer',
    getPassword: async () => c.password,
    ...over,
  };
}

function open(a: ConnectAttempt) {
  return PgConnection.open(a, { homeDir: home });
}

async function failure(a: ConnectAttempt): Promise<Error & { passwordNeeded?: boolean }> {
  const r = await open(a).then(
    (c) => {
      c.destroy();
      return undefined;
    },
    (e: Error) => e,
  );
  if (!r) throw new Error('connection unexpectedly succeeded');
  return r;
}

/** psql's error for the same connection string (without the "psql: error: " prefix), if psql is installed. */
function psqlError(conninfo: string, password?: string): string | undefined {
  const psql = systemTool('psql');
  if (!psql) return undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of Object.keys(env)) if (k.startsWith('PG')) delete env[k];
  if (password !== undefined) env.PGPASSWORD = password;
  const r = spawnSync(psql, ['-X', '-w', '-d', conninfo, '-c', 'SELECT 1'], { env, encoding: 'utf8' });
  return r.stderr.replace(/^psql: error: /, '').replace(/\n$/, '');
}

describe('authentication', () => {
  it('trust over the unix socket (no TLS on sockets, even with sslmode=require)', async () => {
    const conn = await open({ ...tcp(scram), host: scram.socketDir, isUnixSocket: true, sslMode: 'require', replication: 'true', database: 'replication' });
    expect(conn.tls).toBe(false);
    expect(conn.passwordUsed).toBe(false);
    expect(conn.serverVersionNum).toBeGreaterThanOrEqual(170000);
    expect(conn.serverVersionNum).toBeLessThan(180000);
    expect(conn.address).toBe(`${scram.socketDir}/.s.PGSQL.${scram.port}`);
    await conn.close();
  });

  it('SCRAM over TCP (TLS preferred, SCRAM-SHA-256-PLUS chosen)', async () => {
    const conn = await open(tcp(scram));
    expect(conn.tls).toBe(true);
    expect(conn.passwordUsed).toBe(true);
    const [row] = await scram.query<{ ssl: boolean; client_addr: string }>(
      `SELECT s.ssl, a.client_addr FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE pid = ${conn.backendPid}`,
    );
    expect(row?.ssl).toBe(true);
    await conn.close();
  });

  it('SCRAM without TLS (sslmode=disable)', async () => {
    const conn = await open(tcp(scram, { sslMode: 'disable' }));
    expect(conn.tls).toBe(false);
    expect((await conn.simpleQuery('SELECT current_user'))[0]?.rows).toEqual([['postgres']]);
    await conn.close();
  });

  it('md5 over TCP', async () => {
    const conn = await open(tcp(md5));
    expect(conn.passwordUsed).toBe(true);
    expect(conn.tls).toBe(false); // prefer against a server without TLS falls back to plain
    await conn.close();
  });

  it('wrong password: FATAL text like psql', async () => {
    for (const c of [scram, md5]) {
      const e = await failure(tcp(c, { getPassword: async () => 'wrong', sslMode: 'disable' }));
      expect(e.message).toBe(`connection to server at "127.0.0.1", port ${c.port} failed: FATAL:  password authentication failed for user "postgres"`);
      expect(isConnectFailure(e) && e.sqlState).toBe('28P01');
      expect(e.passwordNeeded).toBe(false);
      const viaPsql = psqlError(`host=127.0.0.1 port=${c.port} user=postgres dbname=postgres sslmode=disable`, 'wrong');
      if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
    }
  });

  it('no password: fe_sendauth text and passwordNeeded, like psql -w', async () => {
    for (const c of [scram, md5]) {
      const e = await failure(tcp(c, { getPassword: async () => undefined, sslMode: 'disable' }));
      expect(e.message).toBe(`connection to server at "127.0.0.1", port ${c.port} failed: fe_sendauth: no password supplied`);
      expect(e.passwordNeeded).toBe(true);
      const viaPsql = psqlError(`host=127.0.0.1 port=${c.port} user=postgres dbname=postgres sslmode=disable`);
      if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
    }
  });

  it('a server FATAL for an unknown database, like psql', async () => {
    const e = await failure({ ...tcp(scram), host: scram.socketDir, isUnixSocket: true, database: 'nosuchdb' });
    expect(e.message).toBe(`connection to server on socket "${scram.socketDir}/.s.PGSQL.${scram.port}" failed: FATAL:  database "nosuchdb" does not exist`);
    const viaPsql = psqlError(`host=${scram.socketDir} port=${scram.port} user=postgres dbname=nosuchdb`);
    if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
  });
});

describe('TLS', () => {
  it('require: TLS without verification', async () => {
    const conn = await open(tcp(scram, { sslMode: 'require' }));
    expect(conn.tls).toBe(true);
    await conn.close();
  });

  it('require against a server without TLS fails like psql', async () => {
    const e = await failure(tcp(md5, { sslMode: 'require' }));
    expect(e.message).toBe(`connection to server at "127.0.0.1", port ${md5.port} failed: server does not support SSL, but SSL was required`);
    const viaPsql = psqlError(`host=127.0.0.1 port=${md5.port} user=postgres dbname=postgres sslmode=require`, md5.password);
    if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
  });

  it('verify-ca with the right CA succeeds; with an unrelated CA fails', async () => {
    const ok = await open(tcp(scram, { sslMode: 'verify-ca', sslRootCert: join(TLS, 'ca.crt') }));
    expect(ok.tls).toBe(true);
    await ok.close();
    const e = await failure(tcp(scram, { sslMode: 'verify-ca', sslRootCert: join(TLS, 'other-ca.crt') }));
    expect(e.message).toBe(`connection to server at "127.0.0.1", port ${scram.port} failed: SSL error: certificate verify failed`);
    const viaPsql = psqlError(`host=127.0.0.1 port=${scram.port} user=postgres dbname=postgres sslmode=verify-ca sslrootcert=${join(TLS, 'other-ca.crt')}`, scram.password);
    if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
  });

  it('require with sslrootcert given verifies the chain (like verify-ca)', async () => {
    const e = await failure(tcp(scram, { sslMode: 'require', sslRootCert: join(TLS, 'other-ca.crt') }));
    expect(e.message).toMatch(/failed: SSL error: certificate verify failed$/);
  });

  it('verify-ca without a root certificate names the default file', async () => {
    const e = await failure(tcp(scram, { sslMode: 'verify-ca' }));
    expect(e.message).toBe(
      `connection to server at "127.0.0.1", port ${scram.port} failed: root certificate file "${home}/.postgresql/root.crt" does not exist\n` +
        "Either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.",
    );
  });

  it('verify-full accepts 127.0.0.1 and localhost (certificate SANs)', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const conn = await open(tcp(scram, { host, sslMode: 'verify-full', sslRootCert: join(TLS, 'ca.crt') }));
      expect(conn.tls).toBe(true);
      await conn.close();
    }
  });

  it('verify-full rejects a host name the certificate does not cover (dialled via hostaddr)', async () => {
    const e = await failure(tcp(scram, { host: 'wrong.example', hostaddr: '127.0.0.1', sslMode: 'verify-full', sslRootCert: join(TLS, 'ca.crt') }));
    expect(e.message).toBe(
      `connection to server at "127.0.0.1", port ${scram.port} failed: server certificate for "localhost" (and 1 other name) does not match host name "wrong.example"`,
    );
    const viaPsql = psqlError(
      `host=wrong.example hostaddr=127.0.0.1 port=${scram.port} user=postgres dbname=postgres sslmode=verify-full sslrootcert=${join(TLS, 'ca.crt')}`,
      scram.password,
    );
    if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
  });

  it('sends the client certificate and key from sslcert/sslkey', async () => {
    const conn = await open(tcp(scram, { sslMode: 'require', sslCert: join(TLS, 'client.crt'), sslKey: tlsKeyFile('client.key') }));
    const [row] = await scram.query<{ client_dn: string | null }>(`SELECT client_dn FROM pg_stat_ssl WHERE pid = ${conn.backendPid}`);
    expect(row?.client_dn).toBe('/CN=postgres');
    await conn.close();
  });

  it('allow: plain first', async () => {
    const conn = await open(tcp(scram, { sslMode: 'allow' }));
    expect(conn.tls).toBe(false);
    await conn.close();
  });

  it('allow: retries with TLS when the server rejects the plain connection', async () => {
    const conn = await open(tcp(scram, { sslMode: 'allow', user: 'tlsonly' }));
    expect(conn.tls).toBe(true);
    await conn.close();
  });

  it('prefer: retries without TLS when the server rejects the TLS connection', async () => {
    const conn = await open(tcp(scram, { sslMode: 'prefer', user: 'plainonly' }));
    expect(conn.tls).toBe(false);
    await conn.close();
  });

  it('prefer: when both tries fail, both errors are reported, like psql', async () => {
    const e = await failure(tcp(scram, { sslMode: 'prefer', getPassword: async () => 'wrong' }));
    const line = `connection to server at "127.0.0.1", port ${scram.port} failed: FATAL:  password authentication failed for user "postgres"`;
    expect(e.message).toBe(`${line}\n${line}`);
    const viaPsql = psqlError(`host=127.0.0.1 port=${scram.port} user=postgres dbname=postgres sslmode=prefer`, 'wrong');
    if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
  });
});

describe('channel binding', () => {
  it('require succeeds with SCRAM-SHA-256-PLUS under TLS', async () => {
    const conn = await open(tcp(scram, { sslMode: 'require', channelBinding: 'require' }));
    expect(conn.tls).toBe(true);
    await conn.close();
  });

  it('require fails without TLS, like psql', async () => {
    const e = await failure(tcp(scram, { sslMode: 'disable', channelBinding: 'require' }));
    expect(e.message).toBe(`connection to server at "127.0.0.1", port ${scram.port} failed: channel binding required, but SSL not in use`);
    const viaPsql = psqlError(`host=127.0.0.1 port=${scram.port} user=postgres dbname=postgres sslmode=disable channel_binding=require`, scram.password);
    if (viaPsql !== undefined) expect(e.message).toBe(viaPsql);
  });

  it('require fails against md5 authentication', async () => {
    const e = await failure(tcp(md5, { sslMode: 'disable', channelBinding: 'require' }));
    expect(e.message).toMatch(/failed: channel binding required but not supported by server's authentication request$/);
  });

  it('disable uses plain SCRAM-SHA-256 even under TLS', async () => {
    const conn = await open(tcp(scram, { sslMode: 'require', channelBinding: 'disable' }));
    expect(conn.tls).toBe(true);
    await conn.close();
  });
});

describe('server errors on an open connection', () => {
  it('keeps ParameterStatus values up to date', async () => {
    const conn = await open(tcp(scram));
    expect(conn.parameters.get('application_name')).toBe('pg_basebackup');
    await conn.simpleQuery("SET application_name = 'renamed'");
    expect(conn.parameters.get('application_name')).toBe('renamed');
    await conn.close();
  });

  it('ServerError for a bad query, connection reusable', async () => {
    const conn = await open(tcp(scram));
    const e = await conn.simpleQuery('SELEC 1').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ServerError);
    expect((e as Error).message).toBe('ERROR:  syntax error at or near "SELEC"');
    expect((await conn.simpleQuery('SELECT 42'))[0]?.rows).toEqual([['42']]);
    await conn.close();
  });

  it('terminated backend: the FATAL error, then the connection is broken', async () => {
    const conn = await open(tcp(scram));
    await scram.query(`SELECT pg_terminate_backend(${conn.backendPid})`);
    const e = await conn.simpleQuery('SELECT 1').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^FATAL:  terminating connection due to administrator command|server closed the connection unexpectedly/);
    expect(conn.broken).toBe(true);
  });

  it('cancel() interrupts a running query with 57014', async () => {
    const conn = await open(tcp(scram));
    const q = conn.simpleQuery('SELECT pg_sleep(30)').catch((x: unknown) => x);
    await new Promise((r) => setTimeout(r, 300));
    await conn.cancel();
    const e = await q;
    expect(e).toBeInstanceOf(ServerError);
    expect((e as ServerError).sqlState).toBe('57014');
    await conn.close();
  });
});
