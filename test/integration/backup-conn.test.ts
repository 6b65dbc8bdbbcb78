/**
 * The ways of connecting that a drop-in pg_basebackup must accept, each taking a backup that restores,
 * against PostgreSQL 15 and 18: unix socket (trust), TCP with SCRAM and PGPASSWORD, TCP with SCRAM and a
 * ~/.pgpass entry for the `replication` database, and TLS with sslmode=verify-full (-d conninfo).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientEnv, extractTar, manifestProblems, parseManifest, plainBackupFiles, runBasebackup, scanTar, socketArgs, tableDigests,
  tarBackupFiles, type TableRef,
} from '../support/backup-helpers.js';
import { makeTempDir, PgCluster, REPO_ROOT, type Major } from '../support/pg-cluster.js';

const MAJORS_HERE: Major[] = [15, 18];
const TABLES: TableRef[] = [{ database: 'postgres', table: 't_conn' }];
const clusters = new Map<Major, PgCluster>();
const digests = new Map<Major, Record<string, string>>();
let work: string;
let seq = 0;
const fresh = (what: string) => join(work, `${what}-${++seq}`);

beforeAll(async () => {
  work = makeTempDir('pgbb-conn-');
  const started = await Promise.all(
    MAJORS_HERE.map((major) => PgCluster.start({ major, auth: 'scram-sha-256', ssl: true, conf: { log_connections: 'on', autovacuum: 'off' } })),
  );
  await Promise.all(
    started.map(async (c) => {
      clusters.set(c.major, c);
      await c.query(`CREATE TABLE t_conn (id int PRIMARY KEY, v text);
        INSERT INTO t_conn SELECT i, repeat(md5(i::text), 6) FROM generate_series(1, 30000) i`);
      await c.query('CHECKPOINT');
      digests.set(c.major, await tableDigests(c, TABLES));
    }),
  );
});

afterAll(async () => {
  await Promise.all([...clusters.values()].map((c) => c.destroy()));
  if (work) rmSync(work, { recursive: true, force: true });
});

function newHome(): string {
  const h = fresh('home');
  mkdirSync(h);
  return h;
}

function checkPlainManifest(d: string): void {
  const m = parseManifest(readFileSync(join(d, 'backup_manifest')));
  expect(m.computedChecksum).toBe(m.recordedChecksum);
  expect(manifestProblems(m, plainBackupFiles(d, 'CRC32C', false))).toEqual([]);
}

function checkTarManifest(d: string, walFetched: boolean): void {
  const m = parseManifest(readFileSync(join(d, 'backup_manifest')));
  expect(m.computedChecksum).toBe(m.recordedChecksum);
  const base = scanTar(join(d, 'base.tar'), { checksum: 'CRC32C' });
  expect(manifestProblems(m, tarBackupFiles([{ scan: base, prefix: '' }], walFetched))).toEqual([]);
}

async function restore(major: Major, dataDir: string): Promise<void> {
  const r = await PgCluster.startOnDataDir(major, dataDir);
  try {
    expect(await tableDigests(r, TABLES)).toEqual(digests.get(major));
  } finally {
    await r.destroy();
  }
}

async function restoreTar(major: Major, d: string): Promise<void> {
  const target = fresh('restore');
  mkdirSync(target);
  try {
    await extractTar(join(d, 'base.tar'), target);
    if (existsSync(join(d, 'pg_wal.tar'))) await extractTar(join(d, 'pg_wal.tar'), join(target, 'pg_wal'));
    await restore(major, target);
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

describe.each(MAJORS_HERE)('PostgreSQL %i: connection forms', (major) => {
  const c = () => clusters.get(major) as PgCluster;

  it('unix socket, trust (-h <dir> -p -U), plain with -P: "1/1 tablespace"; restores', async () => {
    const d = fresh('socket');
    try {
      const r = await runBasebackup([...socketArgs(c()), '-D', d, '-cfast', '-P'], { env: clientEnv(newHome()) });
      expect(r.status, r.stderr).toBe(0);
      const last = r.stderr.split('\n').filter((l) => l !== '').pop();
      expect(last).toMatch(/^ *(\d+)\/\1 kB \(100%\), 1\/1 tablespace$/);
      checkPlainManifest(d);
      await restore(major, d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('TCP 127.0.0.1 with SCRAM, password from PGPASSWORD, tar -X stream; restores', async () => {
    const d = fresh('pgpassword');
    try {
      const env = clientEnv(newHome(), { PGPASSWORD: c().password });
      const r = await runBasebackup(['-h', '127.0.0.1', '-p', String(c().port), '-U', 'postgres', '-D', d, '-Ft', '-Xstream', '-cfast'], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      checkTarManifest(d, false);
      await restoreTar(major, d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('TCP with SCRAM, password from ~/.pgpass matched on the "replication" database (-w); restores', async () => {
    const d = fresh('pgpass');
    try {
      const home = newHome();
      // The first line names another database and a wrong password: libpq must skip it.
      const pgpass = join(home, '.pgpass');
      writeFileSync(pgpass, `127.0.0.1:${c().port}:postgres:postgres:wrong\n127.0.0.1:${c().port}:replication:postgres:${c().password}\n`);
      chmodSync(pgpass, 0o600);
      const r = await runBasebackup(['-h', '127.0.0.1', '-p', String(c().port), '-U', 'postgres', '-w', '-D', d, '-cfast'], { env: clientEnv(home) });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      checkPlainManifest(d);
      await restore(major, d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('TLS: -d "host=localhost sslmode=verify-full sslrootcert=ca.crt", tar -X fetch; the server saw TLS; restores', async () => {
    const d = fresh('tls');
    const app = `pgbb_tls_${major}`;
    try {
      const conninfo = `host=localhost port=${c().port} user=postgres sslmode=verify-full sslrootcert=${join(REPO_ROOT, 'fixtures', 'tls', 'ca.crt')} application_name=${app}`;
      const env = clientEnv(newHome(), { PGPASSWORD: c().password });
      const r = await runBasebackup(['-d', conninfo, '-D', d, '-Ft', '-Xfetch', '-cfast'], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      checkTarManifest(d, true);
      const authorized = c().log().split('\n').filter((l) => l.includes('connection authorized') && l.includes(`application_name=${app}`));
      expect(authorized.length).toBeGreaterThanOrEqual(1);
      for (const l of authorized) expect(l).toMatch(/SSL enabled \(protocol=TLSv1\.[23]/);
      await restoreTar(major, d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('TLS verify-full with a CA that did not sign the server certificate: refused, nothing created', async () => {
    const d = fresh('tls-bad-ca');
    const conninfo = `host=localhost port=${c().port} user=postgres sslmode=verify-full sslrootcert=${join(REPO_ROOT, 'fixtures', 'tls', 'other-ca.crt')}`;
    const r = await runBasebackup(['-d', conninfo, '-D', d, '-cfast'], { env: clientEnv(newHome(), { PGPASSWORD: c().password }) });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pg_basebackup: error: connection to server at "localhost" \(.*\), port \d+ failed: /);
    expect(r.stderr).toContain('certificate verify failed');
    expect(existsSync(d)).toBe(false);
  });
});
