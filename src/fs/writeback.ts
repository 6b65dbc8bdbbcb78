/**
 * Write-back while a large file is still being written (tar archives): once `everyBytes` more were
 * written, an fdatasync of the file is started in the libuv pool, so the disk takes those bytes while
 * the next ones arrive and the final fsync finds little left to do (pg leaves it all to its final pass;
 * Node.js has no sync_file_range).  One at a time, on the writer's own descriptor, which must stay
 * open until settle() has resolved.  A failure is kept and returned by settle(): the writer reports it
 * (a later fsync through another descriptor may no longer see a write-back error).
 */
import { fdatasync } from 'node:fs';

/** Bytes written between two write-backs of a file. */
export const WRITEBACK_EVERY_BYTES = 64 * 1024 * 1024;

export class FdWriteback {
  private unsynced = 0;
  private inFlight: Promise<void> | undefined;
  private error: NodeJS.ErrnoException | undefined;

  constructor(
    private readonly fd: number,
    private readonly everyBytes = WRITEBACK_EVERY_BYTES,
  ) {}

  /** `bytes` more were written. */
  wrote(bytes: number): void {
    this.unsynced += bytes;
    if (this.unsynced < this.everyBytes || this.inFlight !== undefined || this.error !== undefined) return;
    this.unsynced = 0;
    this.inFlight = new Promise((resolve) => {
      fdatasync(this.fd, (err) => {
        if (err) this.error ??= err;
        this.inFlight = undefined;
        resolve();
      });
    });
  }

  /** Wait for the write-back in flight; returns the first failure, if any. */
  async settle(): Promise<NodeJS.ErrnoException | undefined> {
    while (this.inFlight !== undefined) await this.inFlight;
    return this.error;
  }
}
