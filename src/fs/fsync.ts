/**
 * Making a backup durable: pg's fsync_pgdata() (plain format: the data directory, following the
 * pg_wal symlink and the tablespace links in pg_tblspc) and fsync_dir_recurse() (tar format), and
 * durable_rename().  Like pg, sync errors while walking are reported as warnings, not failures.
 */
import { closeSync, fdatasync, fsync, fsyncSync, lstatSync, opendirSync, openSync, readdirSync, readlinkSync, renameSync, statSync, constants as fsConstants, type Dir, type Dirent } from 'node:fs';
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

/**
 * Files whose fsync runs at once in the libuv pool when the walk is concurrent: the walk keeps this
 * many going ahead of the one whose end it waits for.
 */
export const CONCURRENT_FSYNCS = 32;

/**
 * fsyncPath for a regular file, with the fsync (`dataOnly`: fdatasync) itself in the libuv pool:
 * resolves (never rejects) with the warning to print, if any.
 */
export function fsyncFileAsync(path: string, dataOnly = false): Promise<string | undefined> {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY);
  } catch (e) {
    return Promise.resolve(`could not open file "${path}": ${strerror(e)}`);
  }
  return new Promise((resolve) => {
    (dataOnly ? fdatasync : fsync)(fd, (e) => {
      try {
        closeSync(fd);
      } catch {
        // as fsyncPath: the fsync's outcome is what is reported
      }
      resolve(e ? `could not fsync file "${path}": ${strerror(e)}` : undefined);
    });
  });
}

/** fsync every file below `dir` and then the directories, bottom-up (walkdir + fsync_fname). */
export function fsyncDirRecurse(dir: string, warn: SyncWarn, followTopLinks = false): void {
  drain(fsyncDirRecurseSteps(dir, warn, followTopLinks));
}

/**
 * fsyncDirRecurse, yielding after each fsync (so a caller can stop it: src/backup/abort.ts runSteps).
 *
 * `concurrent`: regular files are synced CONCURRENT_FSYNCS at a time in the libuv pool (the kernel
 * then writes them back together, as pg's sync_file_range pass lets it); the walk yields, for each
 * file in walk order, a promise that the caller must await before resuming it (runSteps does) and
 * after which that file is synced and its warning printed.  A directory is synced only once every
 * file before it is.  Without `concurrent`, every step is synchronous.
 */
export function* fsyncDirRecurseSteps(
  dir: string,
  warn: SyncWarn,
  followTopLinks = false,
  concurrent = false,
  durable?: (path: string) => boolean,
): Generator<void | Promise<void>> {
  const inFlight: Promise<string | undefined>[] = [];
  const settled = (p: Promise<string | undefined>): Promise<void> =>
    p.then((w) => {
      if (w !== undefined) warn(w);
    });
  function* file(path: string): Generator<void | Promise<void>> {
    if (durable?.(path) === true) return;
    if (!concurrent) {
      fsyncPath(path, false, warn);
      yield;
      return;
    }
    inFlight.push(fsyncFileAsync(path));
    if (inFlight.length > CONCURRENT_FSYNCS) yield settled(inFlight.shift() as Promise<string | undefined>);
  }
  function* settleAll(): Generator<Promise<void>> {
    while (inFlight.length > 0) yield settled(inFlight.shift() as Promise<string | undefined>);
  }
  function* directory(path: string): Generator<void | Promise<void>> {
    // Read as a stream, as pg's ReadDir() does, not as one array: a directory of 30,000 files
    // (base/<db> with many tables) would otherwise hold all their entries at once (megabytes).
    let dir: Dir | undefined;
    try {
      dir = opendirSync(path);
    } catch (e) {
      warn(`could not open directory "${path}": ${strerror(e)}`);
    }
    if (dir !== undefined) {
      try {
        for (;;) {
          let e: Dirent | null;
          try {
            e = dir.readSync();
          } catch (err) {
            warn(`could not read directory "${path}": ${strerror(err)}`);
            break;
          }
          if (e === null) break;
          // The entry's type as readdir reports it (lstat where the file system does not say), as
          // pg's get_dirent_type(): symbolic links below the top are not followed.
          const child = join(path, e.name);
          if (e.isDirectory()) yield* directory(child);
          else if (e.isFile()) yield* file(child);
        }
      } finally {
        dir.closeSync();
      }
    }
    yield* settleAll();
    fsyncPath(path, true, warn);
    yield;
  }
  let st;
  try {
    st = followTopLinks ? statSync(dir) : lstatSync(dir);
  } catch (e) {
    warn(`could not stat file "${dir}": ${strerror(e)}`);
    return;
  }
  if (st.isDirectory()) yield* directory(dir);
  else if (st.isFile()) {
    yield* file(dir);
    yield* settleAll();
  }
}

/**
 * fsync_pgdata: the data directory, plus pg_wal and each pg_tblspc/<oid> when they are symlinks
 * (pg follows exactly those links and no others).
 */
export function fsyncPgdata(pgdata: string, warn: SyncWarn): void {
  drain(fsyncPgdataSteps(pgdata, warn));
}

/**
 * fsyncPgdata, yielding after each fsync (`concurrent`: as fsyncDirRecurseSteps).  `durable`: regular
 * files known to be durable already (synced since they were written complete) are not synced again.
 */
export function* fsyncPgdataSteps(pgdata: string, warn: SyncWarn, concurrent = false, durable?: (path: string) => boolean): Generator<void | Promise<void>> {
  const linked = (p: string): string | undefined => {
    try {
      if (!lstatSync(p).isSymbolicLink()) return undefined;
      return resolve(dirname(p), readlinkSync(p));
    } catch {
      return undefined;
    }
  };
  const walLink = linked(join(pgdata, 'pg_wal'));
  if (walLink) yield* fsyncDirRecurseSteps(walLink, warn, true, concurrent, durable);
  let spcs: string[] = [];
  try {
    spcs = readdirSync(join(pgdata, 'pg_tblspc'));
  } catch {
    /* no tablespaces directory */
  }
  for (const oid of spcs) {
    const target = linked(join(pgdata, 'pg_tblspc', oid));
    if (target) yield* fsyncDirRecurseSteps(target, warn, true, concurrent, durable);
  }
  yield* fsyncDirRecurseSteps(pgdata, warn, false, concurrent, durable);
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
