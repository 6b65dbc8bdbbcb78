/**
 * Batched writes with backpressure, shared by the file writer and the extractor's large files.
 *
 * Buffers are gathered until a batch of `batchBytes` is ready; then the batch is handed to
 * `writeOut`.  Files are written synchronously (writeAllToFdSync, FILE_BATCH_BYTES: 256 KiB, small
 * enough that the kernel copies from cache-warm memory); a stream (stdout) in the background
 * (writeAllToStream, WRITE_BATCH_BYTES: 1 MiB) while the next batch gathers.  At most one batch is
 * being written and one gathering, so memory stays near two batches per writer: `write()` returns
 * a promise only when a full batch must wait for the previous one to be written.  A failed write
 * (synchronous or not) is reported by the next `write()` or by `flush()`.
 */
import { writevSync } from 'node:fs';
import type { Writable } from 'node:stream';

export const WRITE_BATCH_BYTES = 1024 * 1024;
/** Batch size of synchronous file writes. */
export const FILE_BATCH_BYTES = 256 * 1024;

/** writev(2) takes at most IOV_MAX (1024 on Linux) buffers per call. */
const MAX_BUFFERS_PER_WRITE = 1024;

/** Writes one batch: synchronously (returns nothing, throws on failure) or in the background (a promise). */
export type WriteOut = (bufs: Buffer[], bytes: number) => void | Promise<void>;

/** The one background write in flight, and the first failure of any, for the next call to report. */
class WriteInFlight {
  /** Settles (never rejects) once the write in flight is over. */
  current: Promise<void> | undefined;
  private failed = false;
  private failure: unknown;

  start(write: Promise<void>): void {
    this.current = write.then(
      () => {
        this.current = undefined;
      },
      (err: unknown) => {
        this.current = undefined;
        this.fail(err);
      },
    );
  }

  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
  }

  throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}

export class WriteBatcher {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private readonly w = new WriteInFlight();

  constructor(
    private readonly writeOut: WriteOut,
    private readonly batchSize: number = WRITE_BATCH_BYTES,
  ) {}

  /** Bytes gathered and not yet handed to `writeOut`. */
  get pendingBytes(): number {
    return this.batchBytes;
  }

  write(buf: Buffer): void | Promise<void> {
    this.w.throwIfFailed();
    if (buf.length === 0) return undefined;
    this.batch.push(buf);
    this.batchBytes += buf.length;
    if (this.batchBytes < this.batchSize) return undefined;
    if (this.w.current === undefined) {
      this.startBatch();
      return undefined;
    }
    return this.w.current.then(() => {
      this.w.throwIfFailed();
      this.startBatch();
    });
  }

  /** Write everything gathered and wait for all writes. */
  async flush(): Promise<void> {
    if (this.w.current !== undefined) await this.w.current;
    this.w.throwIfFailed();
    if (this.batchBytes > 0) {
      this.startBatch();
      await this.w.current;
      this.w.throwIfFailed();
    }
  }

  /** Drop what is gathered and wait for the write in progress, ignoring its outcome. */
  async discard(): Promise<void> {
    this.batch = [];
    this.batchBytes = 0;
    if (this.w.current !== undefined) await this.w.current;
  }

  private startBatch(): void {
    const bufs = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    let written: void | Promise<void>;
    try {
      written = this.writeOut(bufs, bytes);
    } catch (err) {
      // Reported by the next write() or flush(), as a failed background write is.
      this.w.fail(err);
      return;
    }
    if (written !== undefined) this.w.start(written);
  }
}

/** A piece at least this long is written as it is, not copied into the batch (SyncFileWrites). */
export const DIRECT_WRITE_BYTES = 16 * 1024;

/**
 * Synchronous writes to a file that keep no caller's buffer: a piece of DIRECT_WRITE_BYTES or more is
 * written at once (after what is gathered), smaller ones are copied into one reused batch of
 * FILE_BATCH_BYTES, written when full.  So it may be handed views of memory that is reused right
 * after the call (the connection's read buffer), and large pieces cost no copy at all.  A failed
 * write throws at once.
 */
export class SyncFileWrites {
  private batch: Buffer | undefined;
  private fill = 0;

  constructor(private readonly fd: number) {}

  write(buf: Buffer): void {
    if (buf.length >= DIRECT_WRITE_BYTES) {
      this.flush();
      writeAllToFdSync(this.fd, [buf]);
      return;
    }
    const batch = (this.batch ??= Buffer.allocUnsafeSlow(FILE_BATCH_BYTES));
    if (this.fill + buf.length > batch.length) this.flush();
    buf.copy(batch, this.fill);
    this.fill += buf.length;
  }

  flush(): void {
    if (this.fill === 0) return;
    const bytes = this.fill;
    this.fill = 0;
    writeAllToFdSync(this.fd, [(this.batch as Buffer).subarray(0, bytes)]);
  }
}

/**
 * Writes to a stream (stdout on a pipe) from two reused batches of WRITE_BATCH_BYTES: pieces are
 * copied into the batch being gathered, a full one is handed to the stream while the other gathers.
 * Nothing of the caller's is kept (in place), and nothing is allocated per piece.  write() returns a
 * promise when the caller must wait: a batch is full while the other is still being written (the rest
 * of that piece then waits in a copy of its own).  A failed write is reported by the next write() or
 * flush().
 */
export class StreamBatches {
  private readonly batches: [Buffer, Buffer];
  private gathering = 0;
  private fill = 0;
  private readonly w = new WriteInFlight();

  constructor(
    private readonly stream: Writable,
    batchBytes: number = WRITE_BATCH_BYTES,
  ) {
    this.batches = [Buffer.allocUnsafeSlow(batchBytes), Buffer.allocUnsafeSlow(batchBytes)];
  }

  write(buf: Buffer): void | Promise<void> {
    this.w.throwIfFailed();
    let off = 0;
    while (off < buf.length) {
      const batch = this.batches[this.gathering] as Buffer;
      const n = Math.min(batch.length - this.fill, buf.length - off);
      buf.copy(batch, this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill < batch.length) return undefined;
      if (this.w.current === undefined) {
        this.send();
        continue;
      }
      const rest = Buffer.from(buf.subarray(off));
      return this.w.current.then(() => {
        this.w.throwIfFailed();
        this.send();
        return this.write(rest);
      });
    }
    return undefined;
  }

  /** Write what is gathered and wait for every write. */
  async flush(): Promise<void> {
    while (this.w.current !== undefined) await this.w.current;
    this.w.throwIfFailed();
    if (this.fill > 0) {
      this.send();
      while (this.w.current !== undefined) await this.w.current;
      this.w.throwIfFailed();
    }
  }

  /** Drop what is gathered and wait for the write in progress, ignoring its outcome. */
  async discard(): Promise<void> {
    this.fill = 0;
    while (this.w.current !== undefined) await this.w.current;
  }

  private send(): void {
    const piece = (this.batches[this.gathering] as Buffer).subarray(0, this.fill);
    this.gathering ^= 1;
    this.fill = 0;
    this.w.start(writeAllToStream(this.stream, [piece]));
  }
}

/** Drop the first `n` bytes of a buffer list. */
function skipBytes(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  let left = n;
  while (i < bufs.length && left >= (bufs[i] as Buffer).length) {
    left -= (bufs[i] as Buffer).length;
    i++;
  }
  const rest = bufs.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = (rest[0] as Buffer).subarray(left);
  return rest;
}

/**
 * Write all buffers to a file descriptor at its current position, retrying short writes, synchronously:
 * a regular file's writes go to the page cache at once, and waiting for a pool thread (and for the
 * event loop to hear back from it) costs more than the write itself on a busy machine; pg_basebackup
 * writes the same way.  A write that makes no progress is taken as ENOSPC, as PostgreSQL assumes for
 * writes without errno.
 */
export function writeAllToFdSync(fd: number, bufs: Buffer[]): void {
  let rest = bufs.filter((b) => b.length > 0);
  while (rest.length > 0) {
    const group = rest.length > MAX_BUFFERS_PER_WRITE ? rest.slice(0, MAX_BUFFERS_PER_WRITE) : rest;
    const n = writevSync(fd, group);
    if (n === 0) throw Object.assign(new Error('No space left on device'), { code: 'ENOSPC' });
    rest = skipBytes(rest, n);
  }
}

/**
 * Write all buffers to a stream (e.g. process.stdout on a pipe) and resolve once the stream has
 * handed the last of them on: the stream's own buffering is bounded by one batch.
 */
export function writeAllToStream(stream: Writable, bufs: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    if (bufs.length === 0) {
      resolve();
      return;
    }
    stream.cork();
    bufs.forEach((b, i) => {
      if (i === bufs.length - 1) stream.write(b, (err) => (err ? reject(err) : resolve()));
      else stream.write(b);
    });
    process.nextTick(() => stream.uncork());
  });
}
