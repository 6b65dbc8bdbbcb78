/**
 * The tar archiver, after astreamer_tar_archiver (src/fe_utils/astreamer_tar.c): labelled chunks in,
 * tar bytes out.
 *
 * - A 512-byte 'header' passes through unchanged; an empty one is regenerated from the member
 *   (tarCreateHeader, with the current time as mtime), and then that member's 'trailer' is
 *   regenerated too, since its size may have changed.
 * - 'data' and other 'trailer' chunks pass through unchanged.
 * - The 'archive-trailer' always becomes two blocks of zero bytes.
 *
 * `injectFile()` appends a made-up member (the backup_manifest for `-D -`), as
 * astreamer_inject_file() does when given this archiver; `injectStream()` does the same with
 * contents read piece by piece (WAL segments spooled for `-D - -X stream`).  `beforeTrailer`, if
 * given, runs once when the archive trailer arrives, before the two zero blocks are written.
 */
import { PgBasebackupError } from '../errors.js';
import { encodeTarHeader, TAR_BLOCK_SIZE, tarPaddingBytes } from './tar-header.js';
import {
  abortQuietly,
  injectedMember,
  injectFile,
  type ArchiveChunk,
  type ByteSink,
  type MemberSink,
} from './streamer.js';

export interface TarArchiverOptions {
  /** Seconds since the epoch, for regenerated headers (default: now). */
  now?: () => number;
  /** Runs once when the archive trailer arrives, before it is written (it may inject members). */
  beforeTrailer?: () => Promise<void>;
}

const ZERO_PADDING = Buffer.alloc(TAR_BLOCK_SIZE);

export class TarArchiver implements MemberSink {
  private rearchiveMember = false;
  private archiveEnded = false;
  private readonly now: () => number;
  private beforeTrailer: (() => Promise<void>) | undefined;
  /** Keeps nothing itself: in place when its writer is. */
  readonly inPlace: boolean;

  constructor(
    private readonly next: ByteSink,
    options: TarArchiverOptions = {},
  ) {
    this.inPlace = next.inPlace === true;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.beforeTrailer = options.beforeTrailer;
  }

  content(chunk: ArchiveChunk): void | Promise<void> {
    if (this.archiveEnded) throw new PgBasebackupError('PGBB_INTERNAL', 'tar archiver received data after the archive trailer');
    switch (chunk.kind) {
      case 'header':
        if (chunk.buf.length === TAR_BLOCK_SIZE) {
          this.rearchiveMember = false;
          return this.next.write(chunk.buf);
        }
        if (chunk.buf.length !== 0) throw new PgBasebackupError('PGBB_INTERNAL', `tar header chunk of ${chunk.buf.length} bytes`);
        this.rearchiveMember = true;
        return this.next.write(encodeTarHeader(chunk.member, this.now()));
      case 'data':
        return chunk.buf.length === 0 ? undefined : this.next.write(chunk.buf);
      case 'trailer': {
        let padding = chunk.buf;
        if (this.rearchiveMember) {
          padding = ZERO_PADDING.subarray(0, tarPaddingBytes(chunk.member.size));
          this.rearchiveMember = false;
        }
        return padding.length === 0 ? undefined : this.next.write(padding);
      }
      case 'archive-trailer': {
        const hook = this.beforeTrailer;
        this.beforeTrailer = undefined;
        if (hook !== undefined) return hook().then(() => this.content(chunk));
        this.archiveEnded = true;
        return this.next.write(Buffer.alloc(2 * TAR_BLOCK_SIZE));
      }
      default:
        throw new PgBasebackupError('PGBB_INTERNAL', 'unexpected chunk while archiving');
    }
  }

  /**
   * Append a member with the given contents before the archive trailer (astreamer_inject_file).
   * `mode` is the permission bits, normally pg_file_create_mode (see file-perm.ts).
   */
  async injectFile(name: string, contents: Buffer, mode: number): Promise<void> {
    if (this.archiveEnded) throw new PgBasebackupError('PGBB_INTERNAL', `cannot inject "${name}" after the archive trailer`);
    await injectFile(this, injectedMember(name, contents.length, mode, this.now()), contents);
  }

  /**
   * Append a member of `size` bytes whose contents arrive from `pieces`, before the archive trailer;
   * the pieces must add up to exactly `size` bytes.
   */
  async injectStream(name: string, size: number, mode: number, pieces: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    if (this.archiveEnded) throw new PgBasebackupError('PGBB_INTERNAL', `cannot inject "${name}" after the archive trailer`);
    const member = injectedMember(name, size, mode, this.now());
    await this.content({ kind: 'header', member, buf: Buffer.alloc(0) });
    let sent = 0;
    for await (const piece of pieces) {
      sent += piece.length;
      if (sent > size) throw new PgBasebackupError('PGBB_INTERNAL', `injected member "${name}" has more than ${size} bytes`);
      const r = this.content({ kind: 'data', member, buf: piece });
      if (r !== undefined) await r;
    }
    if (sent !== size) {
      throw new PgBasebackupError('PGBB_INTERNAL', `injected member "${name}" has ${sent} bytes, expected ${size}`);
    }
    await this.content({ kind: 'trailer', member, buf: Buffer.alloc(0) });
  }

  finish(): Promise<void> {
    return this.next.finish();
  }

  abort(err?: unknown): Promise<void> {
    return abortQuietly(this.next, err);
  }
}
