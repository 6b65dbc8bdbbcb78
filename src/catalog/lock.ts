/**
 * One writer at a time: `<catalog>/lock` holds the holder's pid, host, the process start time (from
 * /proc, to tell a reused pid apart) and the command.  It is created exclusively, already holding
 * them: written to `lock.<pid>.tmp`, then hard-linked into place (link fails if a lock exists), so it
 * is never seen empty.  A lock whose process is gone (same host; pid not running, or running with
 * another start time) is stale: it is moved aside atomically (rename), checked to be the one judged
 * stale, and removed; then the lock is taken.
 */
import { closeSync, constants, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { strerror } from '../errors.js';
import { replaceFile } from '../fs/create-file.js';
import { CatalogError } from './catalog-error.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** /proc/<pid>/stat's starttime (clock ticks since boot); null where unknown. */
  proc_start: string | null;
  started_at: string;
  command: string;
}

/** starttime (field 22) of /proc/<pid>/stat; null when it cannot be read. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ProcessProbe {
  host: string;
  exists(pid: number): boolean;
  startTime(pid: number): string | null;
}

export const systemProbe: ProcessProbe = { host: hostname(), exists: processExists, startTime: processStartTime };

/** Whether a lock holder is gone.  A holder on another host is never judged stale. */
export function isStale(h: LockHolder, probe: ProcessProbe = systemProbe): boolean {
  if (h.host !== probe.host) return false;
  if (!Number.isInteger(h.pid) || h.pid <= 0 || !probe.exists(h.pid)) return true;
  if (h.proc_start === null) return false;
  const now = probe.startTime(h.pid);
  return now !== null && now !== h.proc_start;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return undefined;
    return {
      pid: v.pid,
      host: v.host,
      proc_start: typeof v.proc_start === 'string' ? v.proc_start : null,
      started_at: typeof v.started_at === 'string' ? v.started_at : '',
      command: typeof v.command === 'string' ? v.command : '',
    };
  } catch {
    return undefined;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export class CatalogLock {
  private constructor(
    private readonly path: string,
    private readonly text: string,
  ) {}

  /** Take the lock of the catalog at `root`, or throw the "is locked by process" error. */
  static acquire(root: string, path: string, command: string, probe: ProcessProbe = systemProbe): CatalogLock {
    const holder: LockHolder = {
      pid: process.pid,
      host: probe.host,
      proc_start: probe.startTime(process.pid),
      started_at: new Date().toISOString(),
      command,
    };
    const text = `${JSON.stringify(holder)}\n`;
    // The lock appears with its content at once: written to a file of our own, then linked into place
    // (link fails with EEXIST when another lock is there), so a lock file is never seen empty.
    const own = `${path}.${process.pid}.tmp`;
    writeOwnFile(own, text);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(own, path);
          syncDirectory(dirname(path));
          return new CatalogLock(path, text);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
            throw new CatalogError(`could not create lock file "${path}": ${strerror(e)}`, { cause: e });
          }
        }
        const existing = readText(path);
        if (existing === undefined) continue; // released meanwhile
        const other = parseHolder(existing);
        if (other === undefined) {
          throw new CatalogError(`lock file "${path}" is not valid`, { hint: 'Remove it if no other pg-basebackup-catalog command runs.' });
        }
        if (!isStale(other, probe)) {
          throw new CatalogError(`catalog "${root}" is locked by process ${other.pid}`, {
            detail: `${other.command || 'a command'} on host "${other.host}" holds "${path}" since ${other.started_at}`,
          });
        }
        removeStale(path, existing);
      }
    } finally {
      rmSync(own, { force: true });
    }
    throw new CatalogError(`could not lock catalog "${root}"`);
  }

  /** Remove the lock, if it is still ours. */
  release(): void {
    if (readText(this.path) === this.text) unlinkSync(this.path);
  }
}

/** Create `path` anew (whatever non-directory was there goes first) holding `text`, fsynced. */
function writeOwnFile(path: string, text: string): void {
  let fd: number;
  try {
    fd = replaceFile(path, 0o600);
  } catch (e) {
    throw new CatalogError(`could not create file "${path}": ${strerror(e)}`, { cause: e });
  }
  try {
    const data = Buffer.from(text);
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Move a stale lock aside and remove it.  Another process may have replaced it in between: if what
 * was moved is not the text judged stale, it is put back (link, which fails if yet another lock is
 * there, in which case that one stands).
 */
function removeStale(path: string, staleText: string): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CatalogError(`could not remove stale lock file "${path}": ${strerror(e)}`, { cause: e });
  }
  const moved = readText(aside);
  if (moved !== staleText) {
    try {
      linkSync(aside, path);
    } catch {
      /* another lock is in place */
    }
  }
  unlinkSync(aside);
}
