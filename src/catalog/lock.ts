/**
 * One writer at a time: `<catalog>/lock`, created with O_EXCL, holds the holder's pid, host, the
 * process start time (from /proc, to tell a reused pid apart) and the command.  A lock whose process
 * is gone (same host; pid not running, or running with another start time) is stale: it is moved
 * aside atomically (rename), checked to be the one judged stale, and removed; then the lock is taken.
 */
import { closeSync, constants, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { strerror } from '../errors.js';
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
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openExclusive(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new CatalogError(`could not create lock file "${path}": ${strerror(e)}`, { cause: e });
        }
        const existing = readText(path);
        if (existing === undefined) continue; // released meanwhile
        const other = parseHolder(existing);
        if (other !== undefined && !isStale(other, probe)) {
          throw new CatalogError(`catalog "${root}" is locked by process ${other.pid}`, {
            detail: `${other.command || 'a command'} on host "${other.host}" holds "${path}" since ${other.started_at}`,
          });
        }
        if (other === undefined && existing !== '') {
          throw new CatalogError(`lock file "${path}" is not valid`, { hint: 'Remove it if no other pg-basebackup-catalog command runs.' });
        }
        removeStale(path, existing);
        continue;
      }
      try {
        const data = Buffer.from(text);
        writeSync(fd, data, 0, data.length);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return new CatalogLock(path, text);
    }
    throw new CatalogError(`could not lock catalog "${root}"`);
  }

  /** Remove the lock, if it is still ours. */
  release(): void {
    if (readText(this.path) === this.text) unlinkSync(this.path);
  }
}

function openExclusive(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
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
