/**
 * The tar parser, after astreamer_tar_parser (src/fe_utils/astreamer_tar.c): raw tar bytes in,
 * labelled chunks out.  Only a header (512 bytes) and a member's padding are buffered (copied) until
 * complete; member data is passed on as it arrives, as views of the input buffers.
 *
 * `TarParser` is the pure state machine (`push` / `end` return chunks); `TarParserStage` is the
 * `ByteSink` that feeds one into a `MemberSink`, waiting whenever that sink asks to.
 */
import { PgBasebackupError, ProtocolError } from '../errors.js';
import { decodeTarHeader, isZeroBlock, TAR_BLOCK_SIZE, tarPaddingBytes } from './tar-header.js';
import { abortQuietly, deliverChunks, type ArchiveChunk, type ByteSink, type MemberSink, type TarMember } from './streamer.js';

type ParserState = 'header' | 'data' | 'trailer' | 'archive-trailer';

/**
 * Bytes after the end-of-archive marker that are kept for the 'archive-trailer' chunk.  PostgreSQL
 * (18+) accepts and buffers any amount of trailing data (POSIX leaves it undefined; GNU tar pads to
 * 10 kB records); we accept any amount too but keep only the first two blocks, so that memory stays
 * bounded.  Every consumer replaces or ignores the archive trailer anyway.
 */
const KEPT_ARCHIVE_TRAILER_BYTES = 2 * TAR_BLOCK_SIZE;

export class TarParser {
  private state: ParserState = 'header';
  private member: TarMember | undefined;
  /** Bytes of the current member's data still to come. */
  private remaining = 0;
  /** Partial header or padding, or the archive trailer. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private finished = false;

  /** Parse the next bytes; returns the chunks they complete, in order. */
  push(buf: Buffer): ArchiveChunk[] {
    if (this.finished) throw new PgBasebackupError('PGBB_INTERNAL', 'tar parser used after end of stream');
    const out: ArchiveChunk[] = [];
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'header': {
          const block = this.bufferUntil(buf, pos, TAR_BLOCK_SIZE);
          pos = block.pos;
          if (block.full === undefined) return out;
          this.startMember(block.full, out);
          break;
        }
        case 'data': {
          const member = this.member as TarMember;
          const n = Math.min(this.remaining, buf.length - pos);
          // The whole input when it lies inside one member (the common case): no view to allocate.
          out.push({ kind: 'data', member, buf: pos === 0 && n === buf.length ? buf : buf.subarray(pos, pos + n) });
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endData(member, out);
          break;
        }
        case 'trailer': {
          const member = this.member as TarMember;
          const padding = this.bufferUntil(buf, pos, tarPaddingBytes(member.size));
          pos = padding.pos;
          if (padding.full === undefined) return out;
          out.push({ kind: 'trailer', member, buf: padding.full });
          this.state = 'header';
          break;
        }
        case 'archive-trailer': {
          const keep = Math.min(buf.length - pos, KEPT_ARCHIVE_TRAILER_BYTES - this.pendingBytes);
          if (keep > 0) this.keep(buf.subarray(pos, pos + keep));
          return out;
        }
        default:
          throw new PgBasebackupError('PGBB_INTERNAL', 'unexpected state while parsing tar archive');
      }
    }
    return out;
  }

  /** The stream ended: returns the 'archive-trailer' chunk, or fails if a member is incomplete. */
  end(): ArchiveChunk[] {
    if (this.finished) throw new PgBasebackupError('PGBB_INTERNAL', 'tar parser used after end of stream');
    if (this.state !== 'archive-trailer' && (this.state !== 'header' || this.pendingBytes > 0)) {
      throw new ProtocolError('COPY stream ended before last file was finished');
    }
    this.finished = true;
    const trailer = this.take();
    return [{ kind: 'archive-trailer', buf: trailer }];
  }

  /** A full header block arrived: a new member, or the end-of-archive marker. */
  private startMember(block: Buffer, out: ArchiveChunk[]): void {
    if (isZeroBlock(block)) {
      // The zero block itself belongs to the archive trailer.
      this.keep(block);
      this.state = 'archive-trailer';
      return;
    }
    const member = decodeTarHeader(block);
    this.member = member;
    out.push({ kind: 'header', member, buf: block });
    if (member.size === 0) {
      out.push({ kind: 'trailer', member, buf: Buffer.alloc(0) });
      this.state = 'header';
    } else {
      this.remaining = member.size;
      this.state = 'data';
    }
  }

  private endData(member: TarMember, out: ArchiveChunk[]): void {
    if (tarPaddingBytes(member.size) === 0) {
      out.push({ kind: 'trailer', member, buf: Buffer.alloc(0) });
      this.state = 'header';
    } else {
      this.state = 'trailer';
    }
  }

  /**
   * Gather bytes from `buf` (from `pos`) until `target` bytes are pending.  Returns the complete
   * piece (a view of `buf` when it was there whole) and the new position, or `full: undefined`
   * once `buf` is used up first.
   */
  private bufferUntil(buf: Buffer, pos: number, target: number): { full: Buffer | undefined; pos: number } {
    const need = target - this.pendingBytes;
    if (buf.length - pos < need) {
      this.keep(buf.subarray(pos));
      return { full: undefined, pos: buf.length };
    }
    if (this.pendingBytes === 0) return { full: buf.subarray(pos, pos + need), pos: pos + need };
    this.keep(buf.subarray(pos, pos + need));
    return { full: this.take(), pos: pos + need };
  }

  /** Keeps a copy: the input may be a view of memory that is reused once push() returns. */
  private keep(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pending.push(Buffer.from(piece));
    this.pendingBytes += piece.length;
  }

  private take(): Buffer {
    const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }
}

/** The tar parser as a stage: bytes in, labelled chunks to `next`. */
export class TarParserStage implements ByteSink {
  private readonly parser = new TarParser();
  /** The parser keeps copies only (and copies what waits), so the stage takes input in place when `next` does. */
  readonly inPlace: boolean;

  constructor(private readonly next: MemberSink) {
    this.inPlace = next.inPlace === true;
  }

  write(buf: Buffer): void | Promise<void> {
    // In place, `buf` may be reused once this returns: chunks left for after a wait are copied.
    return deliverChunks(this.next, this.parser.push(buf), 0, this.inPlace);
  }

  async finish(): Promise<void> {
    await deliverChunks(this.next, this.parser.end());
    await this.next.finish();
  }

  abort(err?: unknown): Promise<void> {
    return abortQuietly(this.next, err);
  }
}
