/**
 * How a failed backup ends, against PostgreSQL 18 (pg_basebackup's texts, exit status 1 and directory
 * cleanup, reference.md §1.3 and §2.2): a non-empty target, authentication failures (before anything is
 * created, since pg connects before it makes the directory), failures after the directory was made
 * (removed, kept with -n, emptied when it existed), and a page-checksum failure (data kept).
 * The expected texts were checked against Debian's pg_basebackup 15 against a 15 server.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestProblems, parseManifest, plainBackupFiles, runBasebackup, socketArgs, startTablespaceSource, type TablespaceSource } from '../support/backup-helpers.js';
import { type PgCluster } from '../support/pg-cluster.js';

let src: TablespaceSource;
let c: PgCluster;
let work: string;
let env: NodeJS.ProcessEnv;
let tsDir: string;
let seq = 0;
const fresh = (what: string) => join(work, `${what}-${++seq}`);
const lines = (s: string) => s.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);

beforeAll(async () => {
  src = await startTablespaceSource('pgbb-fail18-', { major: 18, auth: 'scram-sha-256' });
  ({ c, work, env, tsDir } = src);
  await c.query(`CREATE TABLE t_ts (id int, v text) TABLESPACE ts1; INSERT INTO t_ts SELECT i, md5(i::text) FROM generate_series(1, 1000) i;
    CREATE TABLE t_bad (id int PRIMARY KEY, v text); INSERT INTO t_bad SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, 5000) i`);
  await c.query('CHECKPOINT');
});

afterAll(async () => {
  await src?.destroy();
});

/** A -T target that exists and is not empty: pg fails only after it has made the data directory. */
function nonEmptyDir(): string {
  const d = fresh('not-empty-ts');
  mkdirSync(d);
  writeFileSync(join(d, 'occupied'), 'x');
  return d;
}

describe('PostgreSQL 18: failures', () => {
  it('target directory exists and is not empty: error, exit 1, directory untouched', async () => {
    const d = fresh('occupied');
    mkdirSync(d);
    writeFileSync(join(d, 'keep.txt'), 'precious');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast'], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`pg_basebackup: error: directory "${d}" exists but is not empty\n`);
    expect(readdirSync(d)).toEqual(['keep.txt']);
    expect(readFileSync(join(d, 'keep.txt'), 'utf8')).toBe('precious');
  });

  it("wrong password: libpq's message, exit 1; nothing was created, so nothing is removed", async () => {
    const d = fresh('wrong-password');
    const r = await runBasebackup(['-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-D', d], { env: { ...env, PGPASSWORD: 'wrong' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `pg_basebackup: error: connection to server at "127.0.0.1", port ${c.port} failed: FATAL:  password authentication failed for user "postgres"\n`,
    );
    expect(existsSync(d)).toBe(false);
  });

  it('no password with -w: fe_sendauth message, exit 1, nothing created', async () => {
    const d = fresh('no-password');
    const r = await runBasebackup(['-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-w', '-D', d], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`pg_basebackup: error: connection to server at "127.0.0.1", port ${c.port} failed: fe_sendauth: no password supplied\n`);
    expect(existsSync(d)).toBe(false);
  });

  it('a failure after the data directory was created removes it', async () => {
    const d = fresh('created');
    const ts = nonEmptyDir();
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', '-T', `${tsDir}=${ts}`], { env });
    expect(r.status).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `pg_basebackup: error: directory "${ts}" exists but is not empty`,
      `pg_basebackup: removing data directory "${d}"`,
    ]);
    expect(existsSync(d)).toBe(false);
    expect(readdirSync(ts)).toEqual(['occupied']);
  });

  it('-n keeps the data directory it created', async () => {
    const d = fresh('no-clean');
    const ts = nonEmptyDir();
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', '-n', '-T', `${tsDir}=${ts}`], { env });
    expect(r.status).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `pg_basebackup: error: directory "${ts}" exists but is not empty`,
      `pg_basebackup: data directory "${d}" not removed at user's request`,
    ]);
    expect(existsSync(d)).toBe(true);
  });

  it('an existing empty directory is emptied again after a failure in the middle of the backup', async () => {
    const d = fresh('was-empty');
    mkdirSync(d);
    const ts = fresh('ts');
    // The WAL receiver fails (no such slot) while the base backup is being received (throttled with -r
    // so that it cannot finish first).
    const args = ['-D', d, '-cfast', '-Xstream', '-S', 'nonexistent', '-r', '1M', '-T', `${tsDir}=${ts}`];
    const r = await runBasebackup([...socketArgs(c), ...args], { env });
    expect(r.status).toBe(1);
    expect(lines(r.stderr)).toEqual([
      'pg_basebackup: error: could not send replication command "START_REPLICATION": ERROR:  replication slot "nonexistent" does not exist',
      'pg_basebackup: error: background process terminated unexpectedly',
      `pg_basebackup: removing contents of data directory "${d}"`,
      // Beyond pg (README, "Where we differ"): pg prints "changes to tablespace directories will not be
      // undone" and leaves the directory it made; we remove it.
      `pg_basebackup: removing tablespace directory "${ts}"`,
    ]);
    expect(existsSync(d)).toBe(true);
    expect(readdirSync(d)).toEqual([]);
    expect(existsSync(ts)).toBe(false);
  });

  // Last: it damages the source cluster.
  it('a page-checksum failure: WARNING relayed, "checksum error occurred", exit 1, data kept; --no-verify-checksums succeeds', async () => {
    const [rel] = await c.query<{ p: string }>("SELECT pg_relation_filepath('t_bad') AS p");
    const file = join(c.dataDir, rel?.p ?? 'missing');
    await c.stop('fast');
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(16, 0xab), 0, 16, 4000); // inside block 0, away from its header
    closeSync(fd);
    await c.startAgain();

    const d = fresh('checksum');
    const mapped = fresh('checksum-ts');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', '-T', `${tsDir}=${mapped}`], { env });
    expect(r.status).toBe(1);
    const out = lines(r.stderr);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(new RegExp(`^WARNING:  checksum verification failed in file "\\./${rel?.p}", block 0: calculated [0-9A-F]+ but expected [0-9A-F]+$`));
    expect(out[1]).toBe('pg_basebackup: error: checksum error occurred');
    // Kept, but without the completion marker.
    expect(existsSync(join(d, 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(d, rel?.p ?? 'missing'))).toBe(true);
    expect(existsSync(join(d, 'backup_manifest'))).toBe(false);
    expect(existsSync(join(d, 'backup_manifest.tmp'))).toBe(true);

    const ok = fresh('no-verify');
    const okTs = fresh('no-verify-ts');
    const r2 = await runBasebackup([...socketArgs(c), '-D', ok, '-cfast', '--no-verify-checksums', '-T', `${tsDir}=${okTs}`], { env });
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stderr).toBe('');
    const m = parseManifest(readFileSync(join(ok, 'backup_manifest')));
    expect(m.computedChecksum).toBe(m.recordedChecksum);
    expect(manifestProblems(m, plainBackupFiles(ok, 'CRC32C', false))).toEqual([]);
    expect(readFileSync(join(ok, rel?.p ?? 'missing')).equals(readFileSync(file))).toBe(true);
  });
});
