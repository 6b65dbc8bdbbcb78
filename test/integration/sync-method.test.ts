/**
 * --sync-method: fsync (default) or syncfs.  syncfs runs coreutils' `sync --file-system DIR` (which
 * calls syncfs(2)) once per file system root of the backup: the data directory and, for plain format,
 * each tablespace target and a --waldir target.  A `sync` stand-in on PATH records its calls and then
 * runs the real one.  Without a sync program the backup falls back to fsync, with a warning.  With
 * fsync (the default), a plain backup's small files are made durable in syncfs batches too (early-sync.ts).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, runBasebackup, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { loadSource } from './compress-support.js';

const MAJOR = 17;
const REAL_SYNC = ['/usr/bin/sync', '/bin/sync'].find((p) => existsSync(p));
if (!REAL_SYNC) console.log('skipping by name "syncfs through the sync program": coreutils\' sync is not installed');

describe(`PostgreSQL ${MAJOR}: --sync-method`, () => {
  let work: string;
  let src: PgCluster;
  let tsDir: string;
  let bin: string;
  let log: string;
  let seq = 0;

  beforeAll(async () => {
    work = makeTempDir('pgbb-sync-');
    mkdirSync(join(work, 'home'));
    bin = join(work, 'bin');
    mkdirSync(bin);
    log = join(work, 'sync.log');
    writeFileSync(join(bin, 'sync'), `#!/bin/sh\necho "$*" >> '${log}'\nexec ${REAL_SYNC ?? '/usr/bin/sync'} "$@"\n`);
    chmodSync(join(bin, 'sync'), 0o755);
    src = await PgCluster.start({ major: MAJOR, conf: { autovacuum: 'off' } });
    tsDir = join(work, 'ts-source');
    await loadSource(src, tsDir, 2000);
  });

  afterAll(async () => {
    await src?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const calls = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []);

  async function backup(args: string[], path: string) {
    rmSync(log, { force: true });
    const d = join(work, `bk-${++seq}`);
    const r = await runBasebackup([...socketArgs(src), '-D', d, '-c', 'fast', '-v', ...args], { env: clientEnv(join(work, 'home'), { PATH: path }) });
    return { r, d };
  }

  it.runIf(REAL_SYNC !== undefined)('syncfs, plain with a tablespace and --waldir: one syncfs per root, nothing else', async () => {
    const mapped = join(work, `ts-${seq + 1}`);
    const waldir = join(work, `wal-${seq + 1}`);
    const { r, d } = await backup(['-Fp', '-X', 'stream', '-T', `${tsDir}=${mapped}`, `--waldir=${waldir}`, '--sync-method=syncfs'], bin);
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('pg_basebackup: syncing data to disk ...');
    expect(calls().sort()).toEqual([`--file-system ${d}`, `--file-system ${mapped}`, `--file-system ${waldir}`].sort());
    expect(existsSync(join(d, 'backup_manifest'))).toBe(true);
  });

  it.runIf(REAL_SYNC !== undefined)('syncfs, tar: the output directory', async () => {
    const { r, d } = await backup(['-Ft', '-X', 'fetch', '-z', '--sync-method=syncfs'], bin);
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.status).toBe(0);
    expect(calls()).toEqual([`--file-system ${d}`]);
  });

  it.runIf(REAL_SYNC !== undefined)('fsync (the default), plain: small files are made durable by a syncfs of each root, the rest by fsync; silently without a sync program', async () => {
    const mapped = join(work, `ts-${seq + 1}`);
    const { r, d } = await backup(['-Fp', '-X', 'fetch', '-T', `${tsDir}=${mapped}`], bin);
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('syncing data to disk');
    // At least the last batch, in finish(): one call per file system root of the backup.
    const made = calls();
    expect(made.length).toBeGreaterThanOrEqual(2);
    expect(new Set(made)).toEqual(new Set([`--file-system ${d}`, `--file-system ${mapped}`]));
    expect(existsSync(join(d, 'backup_manifest'))).toBe(true);
    const empty = join(work, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const without = await backup(['-Fp', '-X', 'fetch', '-T', `${tsDir}=${join(work, `ts-${seq + 1}`)}`], empty);
    expect(without.r.stderr).not.toMatch(/error|warning/);
    expect(without.r.status).toBe(0);
    expect(existsSync(join(without.d, 'backup_manifest'))).toBe(true);
  });

  it('fsync (the default) in tar format, and -N, never run the sync program', async () => {
    const a = await backup(['-Ft', '-X', 'fetch'], bin);
    expect(a.r.status).toBe(0);
    expect(a.r.stderr).toContain('syncing data to disk');
    const b = await backup(['-Fp', '-X', 'fetch', '-T', `${tsDir}=${join(work, `ts-n-${seq}`)}`, '-N', '--sync-method=syncfs'], bin);
    expect(b.r.status).toBe(0);
    expect(b.r.stderr).not.toContain('syncing data to disk');
    expect(calls()).toEqual([]);
  });

  it('syncfs without a sync program: a warning, then fsync, and the backup succeeds', async () => {
    const empty = join(work, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const { r, d } = await backup(['-Ft', '-X', 'fetch', '--sync-method=syncfs'], empty);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('pg_basebackup: warning: could not run "sync" for --sync-method=syncfs; syncing with fsync instead');
    expect(existsSync(join(d, 'backup_manifest'))).toBe(true);
  });
});
