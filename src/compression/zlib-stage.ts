/**
 * A byte stage that runs the bytes through a node:zlib transform (gzip or zstd, compressing or
 * decompressing) and hands the output to the next stage, as astreamer_gzip/zstd do in pg.
 *
 * Backpressure both ways: output is pulled one piece at a time and passed on only when the next
 * stage is ready; meanwhile zlib stops transforming once its own buffer is full, and `write()`
 * then returns a promise until it drains.  Memory is bounded by zlib's buffers (`chunkBytes`).
 */
import type { Transform } from 'node:stream';
import { PgBasebackupError } from '../errors.js';
import { abortQuietly, type ByteSink } from '../archive/streamer.js';

export class ZlibStage implements ByteSink {
  private failure: unknown;
  private failed = false;
  private readonly pump: Promise<void>;
  private aborted = false;

  /**
   * @param z the transform (e.g. zlib.createGzip()); owned by this stage from now on
   * @param errorPrefix pg's text for a library failure, e.g. "could not decompress data"
   */
  constructor(
    private readonly z: Transform,
    private readonly next: ByteSink,
    private readonly errorPrefix: string,
  ) {
    z.on('error', (err: Error) => this.fail(err));
    this.pump = this.runPump();
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
  }

  private error(): PgBasebackupError {
    const err = this.failure;
    if (err instanceof PgBasebackupError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new PgBasebackupError('PGBB_FILE', `${this.errorPrefix}: ${msg}`, { cause: err });
  }

  /** Pull output pieces and hand each to the next stage, waiting when it asks to. */
  private async runPump(): Promise<void> {
    try {
      for await (const piece of this.z) {
        if (this.aborted) return;
        const r = this.next.write(piece as Buffer);
        if (r !== undefined) await r;
      }
    } catch (err) {
      this.fail(err);
      this.z.destroy();
    }
  }

  write(buf: Buffer): void | Promise<void> {
    if (this.failed) throw this.error();
    if (this.z.write(buf)) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        this.z.off('drain', done);
        resolve();
      };
      this.z.on('drain', done);
      void this.pump.then(done);
    }).then(() => {
      if (this.failed) throw this.error();
    });
  }

  async finish(): Promise<void> {
    if (this.failed) throw this.error();
    this.z.end();
    await this.pump;
    if (this.failed) throw this.error();
    await this.next.finish();
  }

  async abort(err?: unknown): Promise<void> {
    this.aborted = true;
    this.z.destroy();
    await this.pump;
    await abortQuietly(this.next, err);
  }
}
