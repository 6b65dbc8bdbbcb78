/**
 * zstd stages (astreamer_zstd.c's compressor and decompressor).
 *
 * Compression: the input is cut into chunks of ZSTD_CHUNK_BYTES, each compressed into one zstd frame
 * by libzstd (@mongodb-js/zstd) on libuv's thread pool; the frames are written in order, which makes
 * one valid .zst stream (zstd reads concatenated frames).  `workers=N` lets N chunks be compressed at
 * the same time on N threads (pg hands N to ZSTD_c_nbWorkers, which also splits the input into jobs);
 * without it (pg then compresses on its one thread) two chunks are compressed at a time, off the main
 * thread, while the next one is gathered (DEFAULT_CHUNKS_IN_FLIGHT).  Memory: at most (N + 1) chunk
 * buffers, reused, and N frames, N being the chunks in flight.  `long` (long-distance matching) is
 * accepted but has no effect: the library does not expose that parameter, and a chunk is smaller than
 * the long-distance window.
 *
 * Decompression: fzstd's streaming decoder, any number of frames, bounded by the frame's window; on
 * a runtime with zstd in node:zlib, that decoder instead (compression.ts, ZlibStage).
 */
import { abortQuietly, type ByteSink } from '../archive/streamer.js';
import { PgBasebackupError } from '../errors.js';
import { CodecStage } from './codec-stage.js';
import type { FzstdLib, ZstdCompressor } from './libs.js';

/**
 * Input per zstd frame.  Measured with the library on 400 MB of a pgbench base.tar: 2 MB chunks take
 * the same CPU as 4 MB at level 1 and 10-20% less at level 3 (where they also compress 1% smaller),
 * and need half the memory; at level 1, 512 kB chunks take 20-30% more CPU.
 */
export const ZSTD_CHUNK_BYTES = 2 * 1024 * 1024;

/**
 * Chunks compressed at once without `workers`.  Measured at level 1 (farm-bench A/B, pgbench scale
 * 100, -Ft -Xfetch, 2 cores shared with the server): two in flight against one, wall 0.94x
 * (0.89-1.02) over 6 pairs and 0.96x (0.93-0.99) over 10 against the previous build, CPU 0.96-0.98x,
 * peak RSS +3.2-3.5 MiB (about 75 -> 78); at the default level 3 no difference (the compressing
 * threads are then the slower side either way).  npm run bench's ratios to pg did not move beyond
 * their spread (README).  With one, the main thread
 * stops reading whenever a chunk is full before the previous one is compressed, and the server stops
 * with it once the socket's buffer is full.
 */
export const DEFAULT_CHUNKS_IN_FLIGHT = 2;

export interface ZstdCompressOptions {
  level: number;
  /** pg's workers: how many chunks may be compressed at once (0 or unset: DEFAULT_CHUNKS_IN_FLIGHT). */
  workers?: number | undefined;
  chunkBytes?: number;
}

interface Job {
  frame: Promise<Buffer>;
  /** The chunk buffer being compressed: the library reads it in place, so it is reused only after. */
  input: Buffer;
}

/**
 * The input is copied into chunk buffers that are allocated once and reused (at most workers + 1 of
 * them): fresh 4 MB buffers per frame cost a page fault per 4 kB, and piled up as external memory
 * until the garbage collector ran.  A full chunk is compressed while the next one is gathered; write()
 * waits (returns a promise) only when a chunk is full and as many chunks as may be in flight are
 * still being compressed, and then for the oldest.  Frames are passed on in order.
 */
export class ZstdCompressStage implements ByteSink {
  /**
   * In place (streamer.ts): nothing of a written piece is kept once write() returns (it is copied
   * into chunk buffers, or, when write() must wait, its rest copied before waiting), so the caller may
   * hand views of memory it reuses (the connection's read buffer).  A returned promise only asks the
   * caller to wait before the next piece.
   */
  readonly inPlace = true;
  private chunk: Buffer | undefined;
  private fill = 0;
  private readonly spare: Buffer[] = [];
  private readonly inFlight: Job[] = [];
  private readonly maxInFlight: number;
  private readonly chunkBytes: number;
  private failure: PgBasebackupError | undefined;
  private wroteFrame = false;

  constructor(
    private readonly lib: ZstdCompressor,
    private readonly options: ZstdCompressOptions,
    private readonly next: ByteSink,
  ) {
    this.maxInFlight = options.workers !== undefined && options.workers > 0 ? options.workers : DEFAULT_CHUNKS_IN_FLIGHT;
    this.chunkBytes = options.chunkBytes ?? ZSTD_CHUNK_BYTES;
  }

  private fail(e: unknown): PgBasebackupError {
    if (!this.failure) {
      const msg = e instanceof Error ? e.message : String(e);
      this.failure = new PgBasebackupError('PGBB_FILE', `could not compress data: ${msg}`, { cause: e });
    }
    return this.failure;
  }

  /** Start compressing the gathered input as one frame (the caller made room for it). */
  private launch(): void {
    const input = this.chunk ?? Buffer.alloc(0);
    const data = this.fill === input.length ? input : input.subarray(0, this.fill);
    this.chunk = undefined;
    this.fill = 0;
    const frame = this.lib.compress(data, this.options.level);
    frame.catch(() => undefined); // observed when its turn comes
    this.inFlight.push({ frame, input });
    this.wroteFrame = true;
  }

  /** Wait for the oldest frame, pass it on, and keep its chunk buffer for reuse. */
  private async drainOne(): Promise<void> {
    const job = this.inFlight.shift();
    if (job === undefined) return;
    let frame: Buffer;
    try {
      frame = await job.frame;
    } catch (e) {
      throw this.fail(e);
    }
    if (job.input.length === this.chunkBytes) this.spare.push(job.input);
    const r = this.next.write(frame);
    if (r !== undefined) await r;
  }

  write(buf: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    return this.gather(buf, 0);
  }

  /** Copy buf[off..] into chunks, launching each full one; waits only for room to launch. */
  private gather(buf: Buffer, off: number): void | Promise<void> {
    const n = buf.length;
    while (off < n) {
      const chunk = (this.chunk ??= this.spare.pop() ?? Buffer.allocUnsafe(this.chunkBytes));
      const k = Math.min(this.chunkBytes - this.fill, n - off);
      buf.copy(chunk, this.fill, off, off + k);
      this.fill += k;
      off += k;
      if (this.fill === this.chunkBytes) {
        if (this.inFlight.length >= this.maxInFlight) return this.launchAfterRoom(buf, off);
        this.launch();
      }
    }
    return undefined;
  }

  /** The rest of the caller's piece is copied first: the caller may reuse it once write() returns. */
  private async launchAfterRoom(buf: Buffer, off: number): Promise<void> {
    const rest = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
    while (this.inFlight.length >= this.maxInFlight) await this.drainOne();
    this.launch();
    if (rest === undefined) return;
    const r = this.gather(rest, 0);
    if (r !== undefined) await r;
  }

  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.fill > 0 || !this.wroteFrame) {
      // an empty input still makes one frame
      while (this.inFlight.length >= this.maxInFlight) await this.drainOne();
      this.launch();
    }
    while (this.inFlight.length > 0) await this.drainOne();
    this.spare.length = 0;
    await this.next.finish();
  }

  async abort(err?: unknown): Promise<void> {
    this.failure ??= new PgBasebackupError('PGBB_ABORTED', 'aborted');
    await Promise.allSettled(this.inFlight.splice(0).map((j) => j.frame));
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
