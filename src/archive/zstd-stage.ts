/**
 * zstd stages (astreamer_zstd.c's compressor and decompressor).
 *
 * Compression: the input is cut into chunks of ZSTD_CHUNK_BYTES, each compressed into one zstd frame
 * by libzstd (@mongodb-js/zstd) on libuv's thread pool; the frames are written in order, which makes
 * one valid .zst stream (zstd reads concatenated frames).  `workers=N` lets N chunks be compressed at
 * the same time on N threads (pg hands N to ZSTD_c_nbWorkers, which also splits the input into jobs);
 * without it one chunk is compressed at a time, still off the main thread.  Memory: at most
 * (N + 1) chunks and their frames.  `long` (long-distance matching) is accepted but has no effect: the
 * library does not expose that parameter, and a chunk is smaller than the long-distance window.
 *
 * Decompression: fzstd's streaming decoder, any number of frames, bounded by the frame's window.
 */
import { PgBasebackupError } from '../errors.js';
import { CodecStage } from './codec-stage.js';
import type { FzstdLib, ZstdLib } from './compress-libs.js';
import { abortQuietly, type ByteSink } from './streamer.js';

/** Input per zstd frame: large enough that the ratio equals one long stream's (measured). */
export const ZSTD_CHUNK_BYTES = 4 * 1024 * 1024;

export interface ZstdCompressOptions {
  level: number;
  /** pg's workers: how many chunks may be compressed at once (0 or unset: one). */
  workers?: number | undefined;
  chunkBytes?: number;
}

export class ZstdCompressStage implements ByteSink {
  private pieces: Buffer[] = [];
  private pendingLength = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  private readonly maxInFlight: number;
  private readonly chunkBytes: number;
  private failure: PgBasebackupError | undefined;
  private wroteFrame = false;

  constructor(
    private readonly lib: ZstdLib,
    private readonly options: ZstdCompressOptions,
    private readonly next: ByteSink,
  ) {
    this.maxInFlight = Math.max(1, options.workers ?? 0);
    this.chunkBytes = options.chunkBytes ?? ZSTD_CHUNK_BYTES;
  }

  private fail(e: unknown): PgBasebackupError {
    if (!this.failure) {
      const msg = e instanceof Error ? e.message : String(e);
      this.failure = new PgBasebackupError('PGBB_FILE', `could not compress data: ${msg}`, { cause: e });
    }
    return this.failure;
  }

  /** Start compressing the pending input as one frame. */
  private launch(): void {
    const chunk = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces);
    this.pieces = [];
    this.pendingLength = 0;
    const job = this.lib.compress(chunk, this.options.level);
    job.catch(() => undefined); // observed when its turn comes
    this.inFlight.push(job);
    this.wroteFrame = true;
  }

  /** Wait for the oldest frame and pass it on. */
  private async drainOne(): Promise<void> {
    const job = this.inFlight.shift();
    if (job === undefined) return;
    let frame: Buffer;
    try {
      frame = await job;
    } catch (e) {
      throw this.fail(e);
    }
    const r = this.next.write(frame);
    if (r !== undefined) await r;
  }

  write(buf: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    let b = buf;
    let mustWait = false;
    while (this.pendingLength + b.length >= this.chunkBytes) {
      const k = this.chunkBytes - this.pendingLength;
      this.pieces.push(b.subarray(0, k));
      this.pendingLength += k;
      b = b.subarray(k);
      this.launch();
      if (this.inFlight.length >= this.maxInFlight) mustWait = true;
    }
    if (b.length > 0) {
      this.pieces.push(b);
      this.pendingLength += b.length;
    }
    if (!mustWait) return undefined;
    return (async () => {
      while (this.inFlight.length >= this.maxInFlight) await this.drainOne();
    })();
  }

  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pendingLength > 0 || !this.wroteFrame) this.launch(); // an empty input still makes one frame
    while (this.inFlight.length > 0) await this.drainOne();
    await this.next.finish();
  }

  async abort(err?: unknown): Promise<void> {
    this.failure ??= new PgBasebackupError('PGBB_ABORTED', 'aborted');
    await Promise.allSettled(this.inFlight.splice(0));
    await abortQuietly(this.next, err);
  }
}

export function createZstdDecompressor(lib: FzstdLib, next: ByteSink): ByteSink {
  let out: Buffer[] = [];
  const d = new lib.Decompress((data) => {
    if (data.length > 0) out.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  });
  const take = (): Buffer[] => {
    const r = out;
    out = [];
    return r;
  };
  return new CodecStage(
    {
      push: (b) => {
        d.push(b);
        return take();
      },
      finish: () => {
        d.push(new Uint8Array(0), true);
        return take();
      },
    },
    next,
    'could not decompress data',
  );
}
