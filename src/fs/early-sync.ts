/**
 * Beyond pg: a plain backup's files are fsynced as soon as each is complete, while the rest of the
 * backup is still arriving, instead of all at the end.  pg syncs the whole data directory after the
 * last byte (a sync_file_range pass, then fsync file after file): on a 1.5 GB backup that is about
 * two seconds of waiting for the disk with nothing else to do.  Here the kernel writes each finished
 * file back while the next ones are received, so the final pass (fsync.ts, unchanged: it still syncs
 * every file and directory, as pg does) finds them clean and returns at once for each.
 *
 * At most `maxInFlight` fsyncs run at once in the libuv pool (it has 4 threads, which the WAL writer
 * and the compressors also use); files completed meanwhile wait in a queue of paths, and whatever is
 * still queued when the backup ends is left to the final pass.  A failure is reported at once with
 * pg's warning text (a later fsync of the same file may not see a write-back error again).
 */
import { fsyncFileAsync, type SyncWarn } from './fsync.js';

/** Early fsyncs running at once. */
export const EARLY_FSYNCS = 2;

export class EarlySync {
  private readonly queue: string[] = [];
  private head = 0;
  private inFlight = 0;
  private stopped = false;
  private idle: (() => void) | undefined;
  /** Files synced here (for tests and figures). */
  synced = 0;

  constructor(
    private readonly warn: SyncWarn,
    private readonly maxInFlight = EARLY_FSYNCS,
  ) {}

  /** A file is complete (closed): sync it soon. */
  fileDone(path: string): void {
    if (this.stopped) return;
    this.queue.push(path);
    this.next();
  }

  /** Start no more; resolves once the fsyncs in flight have ended (the final pass does the rest). */
  stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.head = 0;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  private next(): void {
    while (!this.stopped && this.inFlight < this.maxInFlight && this.head < this.queue.length) {
      const path = this.queue[this.head++] as string;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      this.inFlight++;
      void fsyncFileAsync(path).then((warning) => {
        this.inFlight--;
        this.synced++;
        if (warning !== undefined) this.warn(warning);
        if (this.inFlight === 0 && this.idle !== undefined) this.idle();
        this.next();
      });
    }
  }
}
