import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnInfoPair } from '../../../src/conn/conninfo-defaults.js';
import { connectTimeoutOf, planAttempts } from '../../../src/conn/connect-attempts.js';
import type { LibpqEnvironment } from '../../../src/conn/libpq-environment.js';
import { resolveConnInfo } from '../../../src/conn/resolve.js';

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'pgbb-attempts-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function plan(pairs: ConnInfoPair[], env: NodeJS.ProcessEnv = {}) {
  const environment: LibpqEnvironment = { env, homeDir: home, osUser: 'me', defaultSocketDir: '/run/pg', sysconfDir: '/nonexistent', warn: () => undefined };
  return planAttempts(resolveConnInfo(pairs, environment, { expandDbname: false }), environment);
}

function only(pairs: ConnInfoPair[], env: NodeJS.ProcessEnv = {}) {
  const [p] = plan(pairs, env);
  if (p?.kind !== 'attempt') throw new Error('expected an attempt');
  return p.attempt;
}

describe('planAttempts', () => {
  it('carries host, hostaddr and the socket flag', () => {
    expect(only([['host', '/tmp/s']])).toMatchObject({ host: '/tmp/s', isUnixSocket: true, hostaddr: undefined });
    expect(only([['host', 'db.example'], ['hostaddr', '10.1.2.3']])).toMatchObject({ host: 'db.example', hostaddr: '10.1.2.3', isUnixSocket: false });
    expect(only([['hostaddr', '10.1.2.3']])).toMatchObject({ host: '10.1.2.3', hostaddr: '10.1.2.3' });
  });

  it('maps settings onto the attempt', () => {
    const a = only(
      [
        ['user', 'u'],
        ['dbname', 'd'],
        ['replication', 'true'],
        ['application_name', 'app'],
        ['fallback_application_name', 'fb'],
        ['options', '-c work_mem=1MB'],
        ['sslmode', 'require'],
        ['channel_binding', 'require'],
        ['sslpassword', 'keypw'],
        ['ssl_min_protocol_version', 'TLSv1.3'],
        ['connect_timeout', '1'],
      ],
      { PGCLIENTENCODING: 'LATIN1', PGTZ: 'UTC', PGDATESTYLE: 'default' },
    );
    expect(a).toMatchObject({
      user: 'u',
      database: 'd',
      replication: 'true',
      applicationName: 'app',
      fallbackApplicationName: 'fb',
      options: '-c work_mem=1MB',
      sslMode: 'require',
      channelBinding: 'require',
      sslPassword: 'keypw',
      sslMinProtocolVersion: 'TLSv1.3',
      connectTimeout: 2,
      extraStartupParams: { client_encoding: 'LATIN1', timezone: 'UTC' },
    });
  });

  it('passes the ~/.postgresql files that exist, and root.crt always for verify modes', () => {
    expect(only([])).toMatchObject({ sslRootCert: undefined, sslCert: undefined, sslKey: undefined });
    expect(only([['sslmode', 'verify-ca']]).sslRootCert).toBe(join(home, '.postgresql', 'root.crt'));
    mkdirSync(join(home, '.postgresql'));
    writeFileSync(join(home, '.postgresql', 'postgresql.crt'), '');
    expect(only([])).toMatchObject({ sslCert: join(home, '.postgresql', 'postgresql.crt'), sslKey: undefined });
    expect(only([['sslcert', '/explicit.crt'], ['sslrootcert', 'system']])).toMatchObject({ sslCert: '/explicit.crt', sslRootCert: 'system', sslMode: 'verify-full' });
  });

  it('gives each attempt its own password: explicit, else the .pgpass one', async () => {
    const [p] = plan([['password', 'given']]);
    expect(p?.kind === 'attempt' && (await p.attempt.getPassword())).toBe('given');
    const [q] = plan([]);
    expect(q?.kind === 'attempt' && (await q.attempt.getPassword())).toBeUndefined();
  });

  it('turns bad ports into error entries', () => {
    const plans = plan([['host', 'a,b,c'], ['port', '0,5433,x']]);
    expect(plans.map((p) => (p.kind === 'error' ? [p.message, p.fatal] : p.attempt.port))).toEqual([
      ['invalid port number: "0"', false],
      5433,
      ['invalid integer value "x" for connection option "port"', true],
    ]);
  });
});

describe('connectTimeoutOf', () => {
  it.each<[string | undefined, number | undefined]>([
    [undefined, undefined],
    ['', undefined],
    ['0', undefined],
    ['-3', undefined],
    ['1', 2],
    [' 10 ', 10],
  ])('%j → %j', (value, seconds) => {
    expect(connectTimeoutOf(value)).toBe(seconds);
  });

  it('rejects a non-integer like libpq', () => {
    expect(() => connectTimeoutOf('5s')).toThrow('invalid integer value "5s" for connection option "connect_timeout"');
  });
});
