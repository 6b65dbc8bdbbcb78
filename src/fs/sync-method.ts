/**
 * --sync-method (17+): how the finished backup is made durable (pg's sync_pgdata() and
 * sync_dir_recurse() with DATA_DIR_SYNC_METHOD_FSYNC or _SYNCFS).
 *
 * fsync: every file and directory (fsync.ts).  syncfs: one syncfs(2) per file system holding the
 * backup: the data directory, plus, for plain format, the pg_wal and tablespace link targets, as pg
 * does.  Node.js has no syncfs binding; coreutils' `sync --file-system DIR` makes exactly that call.
 * Without a `sync` program the backup is synced with fsync instead, after a warning.  As with pg,
 * sync failures are warnings, not errors.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { SyncMethod } from '../options/backup-options.js';
import { fsyncDirRecurseSteps, fsyncPgdataSteps, type SyncWarn } from './fsync.js';

/** The program that calls syncfs(2) for us. */
export const SYNC_PROGRAM = 'sync';

function linkTarget(p: string): string | undefined {
  try {
    return lstatSync(p).isSymbolicLink() ? resolve(dirname(p), readlinkSync(p)) : undefined;
  } catch {
    return undefined;
  }
}

/** The directories whose file systems hold a plain backup: pgdata, the pg_wal and tablespace targets. */
export function plainBackupRoots(pgdata: string): string[] {
  const roots = [pgdata];
  const wal = linkTarget(join(pgdata, 'pg_wal'));
  if (wal !== undefined) roots.push(wal);
  let spcs: string[] = [];
  try {
    spcs = readdirSync(join(pgdata, 'pg_tblspc'));
  } catch {
    /* no tablespaces */
  }
  for (const oid of spcs) {
    const t = linkTarget(join(pgdata, 'pg_tblspc', oid));
    if (t !== undefined) roots.push(t);
  }
  return roots;
}

/**
 * syncfs(2) on the file system of each path.  Returns false, having done nothing, when the sync
 * program is missing; failures of a single call are warnings (pg's text).
 */
export function syncfsPaths(paths: readonly string[], warn: SyncWarn, program = SYNC_PROGRAM): boolean {
  for (const p of paths) {
    const r = spawnSync(program, ['--file-system', p], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.error !== undefined) {
      if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      warn(`could not synchronize file system for file "${p}": ${r.error.message}`);
    } else if (r.status !== 0) {
      const why = (r.stderr ?? '').trim().replace(/^[^:]*: /, '');
      warn(`could not synchronize file system for file "${p}": ${why || `${program} exited with status ${r.status}`}`);
    }
  }
  return true;
}

/** Make a finished backup durable: `plain` follows pg_wal and tablespace links, `tar` syncs the directory. */
export function syncBackup(format: 'plain' | 'tar', dir: string, method: SyncMethod, warn: SyncWarn, program = SYNC_PROGRAM): void {
  for (const _ of syncBackupSteps(format, dir, method, warn, program));
}

/** syncBackup, yielding after each fsync (or syncfs call), so that it can be stopped between them. */
export function* syncBackupSteps(format: 'plain' | 'tar', dir: string, method: SyncMethod, warn: SyncWarn, program = SYNC_PROGRAM): Generator<void> {
  if (method === 'syncfs') {
    const roots = format === 'plain' ? plainBackupRoots(dir) : [dir];
    if (syncfsPaths(roots, warn, program)) return;
    warn(`could not run "${program}" for --sync-method=syncfs; syncing with fsync instead`);
  }
  if (format === 'plain') yield* fsyncPgdataSteps(dir, warn);
  else yield* fsyncDirRecurseSteps(dir, warn);
}
