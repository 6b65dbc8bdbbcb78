/**
 * The archive writer, after astreamer_plain_writer (src/fe_utils/astreamer_file.c): bytes to one
 * file (`base.tar`, `<oid>.tar`, with a compression suffix) or to a stream such as stdout (`-D -`,
 * reported as "-").  A file is written synchronously (SyncFileWrites: large pieces as they come,
 * small ones gathered in a reused 256 KiB batch; nothing of the caller's is kept, so the writer is
 * `inPlace`), as pg writes, compressed or not (writing a compressor's output in the libuv pool was
 * measured slower: lz4 1.08x wall); a stream with its backpressure honoured: stdout, a pipe or a
 * socket from two reused 1 MiB batches (StreamBatches, in place too), any other Writable in fresh
 * 1 MiB batches (write-batcher.ts).
 */
import { WriteStream, closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { FileError, PgBasebackupError, strerror } from '../errors.js';
import { createNewFile } from '../fs/create-file.js';
import { FdWriteback } from '../fs/writeback.js';
import type { ByteSink } from './streamer.js';
import { StreamBatches, SyncFileWrites, WRITE_BATCH_BYTES, WriteBatcher, writeAllToStream } from './write-batcher.js';

export type FileWriterTarget =
  /**
   * Create the file at `path`, with permission bits `mode` (pg_file_create_mode).  It must not exist
   * (O_EXCL|O_NOFOLLOW: nothing already there is written through); only an existing character device
   * (/dev/null, /dev/full) is opened as it is.
   */
  | { path: string; mode: number }
  /** Write to an open stream; `name` is used in messages ("-" for stdout, as in pg). */
  | { stream: Writable; name: string };

export interface FileWriterOptions {
  /** A stream's batch size (default WRITE_BATCH_BYTES, 1 MiB). */
  batchBytes?: number;
  /** Called with the path of each file created (for a later fsync). */
  onCreate?: (path: string) => void;
  /** Say "compressed file" in messages, as pg's gzip writer does. */
  compressedFile?: boolean;
  /** A file written synchronously: write it back every so many bytes while writing (src/fs/writeback.ts). */
  writebackBytes?: number | undefined;
  /**
   * A stream: it is done with a chunk once that chunk's write callback has run, so batches may be
   * reused (StreamBatches, in place).  Default: true for the streams that hand a chunk to the kernel
   * (a socket or pipe, a tty, a file stream, process.stdout), false for any other Writable (a
   * PassThrough passes the chunk itself on to its reader, which may keep it).
   */
  reuseBatches?: boolean;
}

/** Streams that are done with a chunk when its write callback runs. */
function releasesChunksOnCallback(stream: Writable): boolean {
  if (stream instanceof Socket || stream instanceof WriteStream) return true;
  // process.stdout on a file is a SyncWriteStream (it has an fd, and writes before the callback).  It
  // is compared only then: reading process.stdout creates it, making a pipe on descriptor 1 non-blocking.
  return typeof (stream as { fd?: unknown }).fd === 'number' && (stream === process.stdout || stream === process.stderr);
}

/** pg's message for a failed write. */
function writeError(noun: string, name: string, err: unknown): FileError {
  if (err instanceof FileError) return err;
  return new FileError(`could not write to ${noun} "${name}": ${strerror(err)}`, name, { cause: err });
}

export class FileWriter implements ByteSink {
  readonly name: string;
  private readonly noun: string;
  private fd: number | undefined;
  private stream: Writable | undefined;
  /**
   * Stream writes, which may make the caller wait (StreamBatches where the stream is done with a chunk
   * at its callback, in place; else WriteBatcher).
   */
  private readonly queued: WriteBatcher | StreamBatches | undefined;
  /** Synchronous file writes. */
  private readonly direct: SyncFileWrites | undefined;
  private readonly writeback: FdWriteback | undefined;
  /** Synchronous file writes and StreamBatches keep nothing of the caller's. */
  readonly inPlace: boolean;
  private readonly onStreamError: ((err: Error) => void) | undefined;
  private streamError: Error | undefined;
  private closed = false;
  private closeError: unknown;

  constructor(target: FileWriterTarget, options: FileWriterOptions = {}) {
    this.noun = options.compressedFile ? 'compressed file' : 'file';
    if ('path' in target) {
      this.name = target.path;
      try {
        this.fd = openNewOrDevice(target.path, target.mode);
      } catch (err) {
        throw new FileError(`could not create ${this.noun} "${target.path}": ${strerror(err)}`, target.path, { cause: err });
      }
      options.onCreate?.(target.path);
      try {
        // Regular files get the data directory's file mode; never touch a device (e.g. /dev/null).
        if (fstatSync(this.fd).isFile()) fchmodSync(this.fd, target.mode);
      } catch (err) {
        closeSync(this.fd);
        this.fd = undefined;
        throw new FileError(`could not set permissions on file "${target.path}": ${strerror(err)}`, target.path, { cause: err });
      }
      this.direct = new SyncFileWrites(this.fd);
      if (options.writebackBytes !== undefined) this.writeback = new FdWriteback(this.fd, options.writebackBytes);
    } else {
      this.name = target.name;
      const stream = target.stream;
      this.stream = stream;
      // An 'error' without a listener would crash the process (e.g. EPIPE on stdout); the error
      // reaches us through the write callbacks instead.
      this.onStreamError = (err: Error) => {
        this.streamError ??= err;
      };
      stream.on('error', this.onStreamError);
      const batchBytes = options.batchBytes ?? WRITE_BATCH_BYTES;
      this.queued =
        (options.reuseBatches ?? releasesChunksOnCallback(stream))
          ? new StreamBatches(stream, batchBytes)
          : new WriteBatcher((bufs) => writeAllToStream(stream, bufs), batchBytes);
    }
    this.inPlace = this.direct !== undefined || this.queued instanceof StreamBatches;
  }

  write(buf: Buffer): void | Promise<void> {
    if (this.closed) throw new PgBasebackupError('PGBB_INTERNAL', `write to "${this.name}" after it was closed`);
    if (this.streamError !== undefined) throw writeError(this.noun, this.name, this.streamError);
    let r: void | Promise<void>;
    try {
      if (this.direct !== undefined) {
        this.direct.write(buf);
        this.writeback?.wrote(buf.length);
        return undefined;
      }
      r = (this.queued as WriteBatcher | StreamBatches).write(buf);
    } catch (err) {
      throw writeError(this.noun, this.name, err);
    }
    return r === undefined ? undefined : r.catch((err: unknown) => {
      throw writeError(this.noun, this.name, err);
    });
  }

  async finish(): Promise<void> {
    try {
      if (this.direct !== undefined) this.direct.flush();
      else await (this.queued as WriteBatcher | StreamBatches).flush();
    } catch (err) {
      await this.abort();
      throw writeError(this.noun, this.name, err);
    }
    const synced = await this.writeback?.settle();
    if (synced !== undefined) {
      this.release();
      throw new FileError(`could not fsync file "${this.name}": ${strerror(synced)}`, this.name, { cause: synced });
    }
    this.release();
    if (this.closeError !== undefined) {
      throw new FileError(`could not close ${this.noun} "${this.name}": ${strerror(this.closeError)}`, this.name, { cause: this.closeError });
    }
  }

  async abort(): Promise<void> {
    await this.queued?.discard();
    await this.writeback?.settle();
    this.release();
  }

  /** Close our file (never the stream: it belongs to the caller, as pg never closes stdout). */
  private release(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch (err) {
        this.closeError = err;
      }
      this.fd = undefined;
    }
    if (this.stream !== undefined && this.onStreamError !== undefined) {
      this.stream.off('error', this.onStreamError);
    }
  }
}

/** A new regular file, or an existing character device; anything else already at `path` is EEXIST. */
function openNewOrDevice(path: string, mode: number): number {
  try {
    return createNewFile(path, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !lstatSync(path, { throwIfNoEntry: false })?.isCharacterDevice()) throw e;
    return openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  }
}
