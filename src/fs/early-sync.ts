/**
 * Beyond pg: a plain backup is made durable while it is still being received, instead of all at the
 * end.  pg syncs the whole data directory after the last byte: a sync_file_range(WRITE) pass that
 * starts the write-back of every file, then fsync file after file; on a 1.5 GB backup that is about
 * two seconds of waiting for the disk with nothing else to do.  Node.js has no sync_file_range, so:
 *
 * - a large file (LARGE_FILE_BYTES or more: relation segments, WAL) is written back every
 *   WRITEBACK_EVERY_BYTES while it is written (an fdatasync through a descriptor of its own, one at a
 *   time), and fsynced as soon as it is closed, at most `maxInFlight` at once in the libuv pool (it has
 *   4 threads, which the WAL writer and the compressors also use), while the next files arrive;
 * - small files are made durable in batches: once SYNCFS_BATCH_FILES of them (or SYNCFS_BATCH_BYTES)
 *   were closed since the last batch began, one syncfs(2) of the target's file system runs in the
 *   background (coreutils' `sync --file-system`, as for --sync-method=syncfs): one write-back for
 *   thousands of files, where an fsync each costs a synchronous write of its data and its inode
 *   (measured: 10,000 tables, 61,000 files, 9.3 s of fsyncs at the end against 0.9 s for a syncfs).
 *   A syncfs that succeeded covers every file closed before it began.  finish() runs a last one over
 *   every file system of the backup: when it succeeds, every file written so far is durable.
 *
 * No path of a small file is kept (memory stays the same for 60,000 files or 6 million): when the
 * last syncfs fails (or the sync program is missing), the final pass syncs every file but the large
 * ones fsynced here.  The final pass (fsync.ts) still walks the backup as pg does and syncs every
 * directory, and every file not durable yet.  A failure here is reported at once with pg's warning
 * text and leaves the file to the final pass.
 */
import { fsyncFileAsync, type SyncWarn } from './fsync.js';
import { runSyncProgram, SYNC_PROGRAM } from './sync-method.js';
import { WRITEBACK_EVERY_BYTES } from './writeback.js';

/** Early fsyncs running at once. */
export const EARLY_FSYNCS = 2;
/** Files at least this large are fsynced one by one as soon as they are closed. */
export const LARGE_FILE_BYTES = 1024 * 1024;
/** A background syncfs starts once this many small files, or this many bytes of them, were closed. */
export const SYNCFS_BATCH_FILES = 2000;
export const SYNCFS_BATCH_BYTES = 64 * 1024 * 1024;

export interface EarlySyncOptions {
  warn: SyncWarn;
  /** The directories whose file systems hold the files (sync-method.ts plainBackupRoots). */
  roots: () => string[];
  /** The program that calls syncfs(2) (tests). */
  syncProgram?: string;
  maxInFlight?: number;
  /** Bytes of a file written between two of its write-backs (WRITEBACK_EVERY_BYTES). */
  writebackBytes?: number;
}

export class EarlySync {
  /** Large files waiting for an fsync slot. */
  private readonly queue: string[] = [];
  private head = 0;
  private inFlight = 0;
  private smallBytesSinceBatch = 0;
  private smallSinceBatch = 0;
  private syncfs: Promise<void> | undefined;
  /** The sync program is missing: small files are left to the final pass. */
  private noSyncProgram = false;
  /** Large files fsynced here. */
  private readonly synced = new Set<string>();
  /** The last syncfs succeeded (on every file system of the backup). */
  private lastBatchOk = false;
  private stopped = false;
  private idle: (() => void) | undefined;
  private readonly warn: SyncWarn;
  private readonly maxInFlight: number;
  /** syncfs batches that succeeded (figures, tests). */
  batches = 0;
  /** Write-backs of large files while written (figures, tests). */
  writebacks = 0;
  private writing = '';
  private unsynced = 0;
  private writeback: Promise<void> | undefined;

  constructor(private readonly options: EarlySyncOptions) {
    this.warn = options.warn;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  /** `bytes` more of `path` were written: a large file is written back every WRITEBACK_EVERY_BYTES. */
  fileWritten(path: string, bytes: number): void {
    if (path !== this.writing) {
      this.writing = path;
      this.unsynced = 0;
    }
    this.unsynced += bytes;
    if (this.unsynced < (this.options.writebackBytes ?? WRITEBACK_EVERY_BYTES) || this.writeback !== undefined || this.stopped) return;
    this.unsynced = 0;
    this.writeback = fsyncFileAsync(path, true).then((warning) => {
      this.writeback = undefined;
      if (warning !== undefined) this.warn(warning);
      else this.writebacks++;
    });
  }

  /** A file is complete (written and closed): make it durable soon. */
  fileDone(path: string, bytes: number): void {
    if (this.stopped) return;
    if (bytes >= LARGE_FILE_BYTES) {
      this.queue.push(path);
      this.nextFsync();
      return;
    }
    this.smallSinceBatch++;
    this.smallBytesSinceBatch += bytes;
    if (this.smallSinceBatch >= SYNCFS_BATCH_FILES || this.smallBytesSinceBatch >= SYNCFS_BATCH_BYTES) this.startBatch();
  }

  /**
   * The backup is complete: wait for what runs, make everything durable with one more syncfs, and
   * return which files need no fsync in the final pass: all of them when that syncfs succeeded (it
   * flushed every file system of the backup after the last file was closed), else the large files
   * fsynced here.
   */
  async finish(): Promise<(path: string) => boolean> {
    this.stopped = true;
    this.queue.length = 0;
    await this.settled();
    this.startBatch(true);
    await this.syncfs;
    if (this.lastBatchOk) return () => true;
    const durable = this.synced;
    return (path) => durable.has(path);
  }

  /** Give up (the backup failed): start nothing more, wait for what runs. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    await this.settled();
  }

  private async settled(): Promise<void> {
    while (this.writeback !== undefined) await this.writeback;
    while (this.syncfs !== undefined) await this.syncfs;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
      });
    }
  }

  private nextFsync(): void {
    while (!this.stopped && this.inFlight < this.maxInFlight && this.head < this.queue.length) {
      const path = this.queue[this.head++] as string;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      this.inFlight++;
      void fsyncFileAsync(path).then((warning) => {
        this.inFlight--;
        if (warning !== undefined) this.warn(warning);
        else this.synced.add(path);
        if (this.inFlight === 0 && this.idle !== undefined) {
          const idle = this.idle;
          this.idle = undefined;
          idle();
        }
        this.nextFsync();
      });
    }
  }

  /** One syncfs for every file system of the backup, covering the small files closed so far. */
  private startBatch(final = false): void {
    if ((this.stopped && !final) || this.syncfs !== undefined || this.noSyncProgram) return;
    this.smallSinceBatch = 0;
    this.smallBytesSinceBatch = 0;
    this.lastBatchOk = false;
    const program = this.options.syncProgram ?? SYNC_PROGRAM;
    this.syncfs = (async () => {
      let ok = true;
      for (const root of this.options.roots()) {
        const r = await runSyncProgram(program, root);
        if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
          this.noSyncProgram = true;
          return;
        }
        if (r.error !== undefined || r.status !== 0) {
          ok = false;
          const why = r.error?.message ?? (r.stderr.trim().replace(/^[^:]*: /, '') || `${program} exited with status ${r.status}`);
          this.warn(`could not synchronize file system for file "${root}": ${why}`);
        }
      }
      if (ok) {
        this.lastBatchOk = true;
        this.batches++;
      }
    })().finally(() => {
      this.syncfs = undefined;
      // Files closed meanwhile may already make the next batch.
      if (this.smallSinceBatch >= SYNCFS_BATCH_FILES || this.smallBytesSinceBatch >= SYNCFS_BATCH_BYTES) this.startBatch();
    });
  }
}
