/**
 * Early writeback of the output while the combine goes on (the command, with its final sync on): once
 * enough of the output is written, an fdatasync of it is started in the libuv pool, so the disk
 * writes those bytes while this thread reconstructs the next ones (Node.js has no sync_file_range();
 * pg_combinebackup leaves all of it to its final pass).  Only a hint: failures are ignored here, and
 * the final pass (src/fs/fsync.ts) still syncs every file and directory and reports what fails.
 */
import { closeSync, fdatasync, openSync, constants as fsConstants } from 'node:fs';

/** Bytes of one output file written between two early syncs of it. */
export const WRITEBACK_BYTES = 32 * 1024 * 1024;
/** A finished file with at least this much not synced early is synced early at its end. */
const WRITEBACK_MIN = 1024 * 1024;
/** At most this many descriptors held by early syncs not yet finished. */
const MAX_OPEN = 256;

export class Writeback {
  private current = '';
  private unsynced = 0;
  private open = 0;

  /** `bytes` more of `path` were written (reconstruction, window by window). */
  written(path: string, bytes: number): void {
    if (path !== this.current) {
      this.current = path;
      this.unsynced = 0;
    }
    this.unsynced += bytes;
    if (this.unsynced >= WRITEBACK_BYTES) {
      this.unsynced = 0;
      this.kick(path);
    }
  }

  /** `path` is complete, `size` bytes long. */
  done(path: string, size: number): void {
    const unsynced = path === this.current ? this.unsynced : size;
    this.current = '';
    this.unsynced = 0;
    if (unsynced >= WRITEBACK_MIN) this.kick(path);
  }

  /** Start an fdatasync of `path` in the pool (through its own descriptor: the writer's may close first). */
  kick(path: string): void {
    if (this.open >= MAX_OPEN) return;
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_RDONLY);
    } catch {
      return;
    }
    this.open++;
    fdatasync(fd, () => {
      this.open--;
      try {
        closeSync(fd);
      } catch {
        // a hint only
      }
    });
  }
}
