/**
 * A byte stage around a synchronous incremental codec (the LZ4 frame encoder and decoder, fzstd's
 * decompressor): each input piece is transformed at once and the output handed to the next stage,
 * waiting whenever that stage asks to.  Memory is bounded by the codec's own buffers.
 */
import { PgBasebackupError } from '../errors.js';
import { abortQuietly, type ByteSink } from '../archive/streamer.js';

export interface SyncCodec {
  /** Transform the next input piece; returns the output produced so far (possibly none). */
  push(chunk: Buffer): Buffer[];
  /** End of input: the remaining output; throws if the input was incomplete. */
  finish(): Buffer[];
}

export class CodecStage implements ByteSink {
  private failed: PgBasebackupError | undefined;
  /**
   * In place (streamer.ts): the codec keeps nothing of an input piece once push() returns (it copies
   * what it holds back), and its output pieces are its own, so the caller may hand it views of memory
   * it reuses (the connection's read buffer).  A returned promise then only asks the caller to wait
   * before the next piece: the piece itself has been consumed.
   */
  readonly inPlace: boolean;

  /**
   * @param errorPrefix pg's text for a library failure, e.g. "could not decompress data"
   * @param inPlace whether the codec copies what it keeps of its input (see `inPlace`)
   */
  constructor(
    private readonly codec: SyncCodec,
    private readonly next: ByteSink,
    private readonly errorPrefix: string,
    inPlace = false,
  ) {
    this.inPlace = inPlace;
  }

  private run(f: () => Buffer[]): Buffer[] {
    if (this.failed) throw this.failed;
    try {
      return f();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.failed = new PgBasebackupError('PGBB_FILE', `${this.errorPrefix}: ${msg}`, { cause: e });
      throw this.failed;
    }
  }

  private deliver(pieces: Buffer[], from = 0): void | Promise<void> {
    for (let i = from; i < pieces.length; i++) {
      const piece = pieces[i] as Buffer;
      if (piece.length === 0) continue;
      const r = this.next.write(piece);
      if (r !== undefined) return r.then(() => this.deliver(pieces, i + 1));
    }
    return undefined;
  }

  write(buf: Buffer): void | Promise<void> {
    return this.deliver(this.run(() => this.codec.push(buf)));
  }

  async finish(): Promise<void> {
    await this.deliver(this.run(() => this.codec.finish()));
    await this.next.finish();
  }

  async abort(err?: unknown): Promise<void> {
    await abortQuietly(this.next, err);
  }
}
