/**
 * Making a backup durable: pg's fsync_pgdata() (plain format: the data directory, following the
 * pg_wal symlink and the tablespace links in pg_tblspc) and fsync_dir_recurse() (tar format), and
 * durable_rename().  Like pg, sync errors while walking are reported as warnings, not failures.
 */
import { closeSync, fsyncSync, lstatSync, openSync, readdirSync, readlinkSync, renameSync, statSync, constants as fsConstants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FileError, strerror } from '../errors.js';

export type SyncWarn = (message: string) => void;

function fsyncPath(path: string, isDir: boolean, warn: SyncWarn): void {
  let fd: number;
  try {
    fd = openSync(path, isDir ? fsConstants.O_RDONLY | fsConstants.O_DIRECTORY : fsConstants.O_RDONLY);
  } catch (e) {
    // pg ignores files it cannot open for reading (EACCES on some platforms for directories).
    if ((e as NodeJS.ErrnoException).code === 'EACCES' && isDir) return;
    warn(`could not open file "${path}": ${strerror(e)}`);
    return;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!(isDir && (code === 'EBADF' || code === 'EINVAL'))) warn(`could not fsync file "${path}": ${strerror(e)}`);
  } finally {
    closeSync(fd);
  }
}

/** Run a job of steps to its end in one go. */
function drain(steps: Iterable<unknown>): void {
  for (const _ of steps);
}

/** fsync every file below `dir` and then the directories, bottom-up (walkdir + fsync_fname). */
export function fsyncDirRecurse(dir: string, warn: SyncWarn, followTopLinks = false): void {
  drain(fsyncDirRecurseSteps(dir, warn, followTopLinks));
}

/** fsyncDirRecurse, yielding after each fsync (so a caller can stop it: src/backup/abort.ts runSteps). */
export function* fsyncDirRecurseSteps(dir: string, warn: SyncWarn, followTopLinks = false): Generator<void> {
  function* walk(path: string, follow: boolean): Generator<void> {
    let st;
    try {
      st = follow ? statSync(path) : lstatSync(path);
    } catch (e) {
      warn(`could not stat file "${path}": ${strerror(e)}`);
      return;
    }
    if (st.isDirectory()) {
      let entries: string[] = [];
      try {
        entries = readdirSync(path);
      } catch (e) {
        warn(`could not open directory "${path}": ${strerror(e)}`);
      }
      for (const e of entries) yield* walk(join(path, e), false);
      fsyncPath(path, true, warn);
      yield;
    } else if (st.isFile()) {
      fsyncPath(path, false, warn);
      yield;
    }
  }
  yield* walk(dir, followTopLinks);
}

/**
 * fsync_pgdata: the data directory, plus pg_wal and each pg_tblspc/<oid> when they are symlinks
 * (pg follows exactly those links and no others).
 */
export function fsyncPgdata(pgdata: string, warn: SyncWarn): void {
  drain(fsyncPgdataSteps(pgdata, warn));
}

/** fsyncPgdata, yielding after each fsync. */
export function* fsyncPgdataSteps(pgdata: string, warn: SyncWarn): Generator<void> {
  const linked = (p: string): string | undefined => {
    try {
      if (!lstatSync(p).isSymbolicLink()) return undefined;
      return resolve(dirname(p), readlinkSync(p));
    } catch {
      return undefined;
    }
  };
  const walLink = linked(join(pgdata, 'pg_wal'));
  if (walLink) yield* fsyncDirRecurseSteps(walLink, warn, true);
  let spcs: string[] = [];
  try {
    spcs = readdirSync(join(pgdata, 'pg_tblspc'));
  } catch {
    /* no tablespaces directory */
  }
  for (const oid of spcs) {
    const target = linked(join(pgdata, 'pg_tblspc', oid));
    if (target) yield* fsyncDirRecurseSteps(target, warn, true);
  }
  yield* fsyncDirRecurseSteps(pgdata, warn);
}

/** durable_rename: fsync the file, rename it, fsync the file again and its directory. */
export function durableRename(from: string, to: string, warn: SyncWarn): void {
  fsyncPath(from, false, warn);
  try {
    renameSync(from, to);
  } catch (e) {
    throw new FileError(`could not rename file "${from}" to "${to}": ${strerror(e)}`, from, { cause: e });
  }
  fsyncPath(to, false, warn);
  fsyncPath(dirname(to), true, warn);
}

/** Plain rename (with -N), pg's message on failure. */
export function plainRename(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    throw new FileError(`could not rename file "${from}" to "${to}": ${strerror(e)}`, from, { cause: e });
  }
}
