/**
 * primary_conninfo as pg_basebackup -R writes it: ConnectionFactory.recoveryConnInfo() compared with
 * what Debian's pg_basebackup 15 writes into postgresql.auto.conf for the same settings against a
 * PostgreSQL 15 server.  Skipped where that pg_basebackup is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionFactory, type ConnectionSettings } from '../../src/conn/connect.js';
import { PgCluster, systemTool } from '../support/pg-cluster.js';

const pgBasebackup15 = systemTool('pg_basebackup', 15);

let home: string;
let c: PgCluster;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'pgbb-conn-rec-'));
  if (pgBasebackup15 !== undefined) c = await PgCluster.start({ major: 15, auth: 'scram-sha-256' });
});
afterAll(async () => {
  await c?.destroy();
  rmSync(home, { recursive: true, force: true });
});

/** The primary_conninfo value the real pg_basebackup -R writes (escape_single_quotes_ascii undone: it doubles ' and \\). */
function realPrimaryConninfo(args: string[], env: NodeJS.ProcessEnv): string {
  const out = mkdtempSync(join(home, 'bb-'));
  const r = spawnSync(pgBasebackup15 as string, ['-R', '-Ft', '-X', 'none', '-D', join(out, 'd'), ...args], {
    env: { PATH: process.env['PATH'], HOME: home, LC_ALL: 'C', ...env },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  const conf = spawnSync('tar', ['-xOf', join(out, 'd', 'base.tar'), 'postgresql.auto.conf'], { encoding: 'utf8' }).stdout;
  const m = /^primary_conninfo = '((?:[^'\\]|''|\\\\)*)'$/m.exec(conf);
  expect(m, conf).not.toBeNull();
  return (m?.[1] ?? '').replace(/''|\\\\/g, (pair) => pair.charAt(0));
}

async function ours(settings: Partial<ConnectionSettings>, env: NodeJS.ProcessEnv): Promise<string> {
  const f = new ConnectionFactory(
    { passwordMode: 'never', replication: 'true', fallbackApplicationName: 'pg_basebackup', ...settings },
    { env, homeDir: home },
  );
  const conn = await f.connect();
  try {
    return f.recoveryConnInfo(conn);
  } finally {
    await conn.close();
  }
}

describe.skipIf(pgBasebackup15 === undefined)('primary_conninfo like pg_basebackup 15', () => {
  it('-h socket directory, -p, -U (passfile, no password)', async () => {
    const args = ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres'];
    const expected = realPrimaryConninfo(args, {});
    expect(expected).toContain('passfile=');
    expect(await ours({ host: c.socketDir, port: String(c.port), user: 'postgres' }, {})).toBe(expected);
  });

  it('-d keyword/value over TCP with PGPASSWORD (the password is written)', async () => {
    const connInfo = `host=127.0.0.1 port=${c.port} user=postgres application_name=standby_1 options='-c work_mem=64MB' connect_timeout=10`;
    const env = { PGPASSWORD: c.password };
    const expected = realPrimaryConninfo(['-d', connInfo], env);
    expect(expected).toContain(`password='${c.password}'`);
    expect(await ours({ connInfo }, env)).toBe(expected);
  });

  it('-d URI with sslmode and a percent-encoded socket directory, PGAPPNAME from the environment', async () => {
    const connInfo = `postgresql://postgres@${encodeURIComponent(c.socketDir)}:${c.port}/ignored?sslmode=disable`;
    const env = { PGAPPNAME: "it's \\ quoted" };
    const expected = realPrimaryConninfo(['-d', connInfo], env);
    expect(await ours({ connInfo }, env)).toBe(expected);
  });
});
