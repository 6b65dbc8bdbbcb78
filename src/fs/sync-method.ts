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
import type { ChildProcess } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { childProcess } from '../lazy-builtins.js';
import type { SyncMethod } from '../options/backup-options.js';
import { fsyncDirRecurse, fsyncDirRecurseSteps, fsyncPgdata, fsyncPgdataSteps, type SyncWarn } from './fsync.js';

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
    const r = childProcess().spawnSync(program, ['--file-system', p], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
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

/** Sync programs still running: killed if the process exits at once (a second signal), never left behind. */
const runningSyncs = new Set<ChildProcess>();
let exitHookInstalled = false;

export function runSyncProgram(program: string, p: string): Promise<{ error?: Error; status: number | null; stderr: string }> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of runningSyncs) c.kill();
    });
  }
  return new Promise((resolve) => {
    const child = childProcess().spawn(program, ['--file-system', p], { stdio: ['ignore', 'ignore', 'pipe'] });
    runningSyncs.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (t: string) => {
      stderr += t;
    });
    child.once('error', (error) => {
      runningSyncs.delete(child);
      resolve({ error, status: null, stderr });
    });
    child.once('close', (status) => {
      runningSyncs.delete(child);
      resolve({ status, stderr });
    });
  });
}

/** syncfsPaths() without blocking the event loop (signals are seen, and timed, while it runs). */
export async function syncfsPathsAsync(paths: readonly string[], warn: SyncWarn, program = SYNC_PROGRAM): Promise<boolean> {
  for (const p of paths) {
    const r = await runSyncProgram(program, p);
    if (r.error !== undefined) {
      if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      warn(`could not synchronize file system for file "${p}": ${r.error.message}`);
    } else if (r.status !== 0) {
      const why = r.stderr.trim().replace(/^[^:]*: /, '');
      warn(`could not synchronize file system for file "${p}": ${why || `${program} exited with status ${r.status}`}`);
    }
  }
  return true;
}

/** Make a finished backup durable: `plain` follows pg_wal and tablespace links, `tar` syncs the directory. */
export function syncBackup(format: 'plain' | 'tar', dir: string, method: SyncMethod, warn: SyncWarn, program = SYNC_PROGRAM): void {
  if (method === 'syncfs') {
    const roots = format === 'plain' ? plainBackupRoots(dir) : [dir];
    if (syncfsPaths(roots, warn, program)) return;
    warn(`could not run "${program}" for --sync-method=syncfs; syncing with fsync instead`);
  }
  if (format === 'plain') fsyncPgdata(dir, warn);
  else fsyncDirRecurse(dir, warn);
}

/**
 * syncBackup, yielding after each fsync, so that it can be stopped between them.  With syncfs the
 * sync program runs asynchronously: the generator yields that promise, which the caller awaits
 * (src/backup/abort.ts runSteps) before resuming it.  With fsync the files are synced several at a
 * time in the libuv pool (fsync.ts, `concurrent`): each file's step is a promise to await likewise.
 * `durable`: regular files already made durable since they were written (early-sync.ts) are skipped.
 */
export function* syncBackupSteps(
  format: 'plain' | 'tar',
  dir: string,
  method: SyncMethod,
  warn: SyncWarn,
  program = SYNC_PROGRAM,
  durable?: (path: string) => boolean,
): Generator<void | Promise<void>> {
  if (method === 'syncfs') {
    const roots = format === 'plain' ? plainBackupRoots(dir) : [dir];
    const result = { synced: false };
    yield syncfsPathsAsync(roots, warn, program).then((ok) => {
      result.synced = ok;
    });
    if (result.synced) return;
    warn(`could not run "${program}" for --sync-method=syncfs; syncing with fsync instead`);
  }
  if (format === 'plain') yield* fsyncPgdataSteps(dir, warn, true, durable);
  else yield* fsyncDirRecurseSteps(dir, warn, false, true, durable);
}
