/**
 * WAL segments inside a tar archive (pg_wal.tar, pg_wal.tar.gz/.lz4/.zst, or the pg_wal/ members of a
 * base.tar written with -X fetch), read as a stream: nothing is extracted and at most one segment's
 * first page plus the bytes of the page being read are held.  A first pass lists the members; reading
 * then follows the archive forward, restarting from its beginning only if asked for an earlier member.
 */
import type { CompressionAlgorithm } from '../../compression/compression.js';
import type { ArchiveChunk, MemberSink } from '../../archive/streamer.js';
import { pumpArchiveFile } from './archive-file.js';
import { WalReadFatal, type WalSegmentFile, type WalSegmentSource } from './segment-source.js';
import { XLOG_BLCKSZ } from './wal-format.js';

/** A MemberSink the consumer pulls from: one chunk in flight, the producer waits until it is taken. */
class ChunkChannel implements MemberSink {
  private item: ArchiveChunk | undefined;
  private done = false;
  private failure: unknown;
  private cancelled = false;
  private wakeConsumer: (() => void) | undefined;
  private releaseProducer: (() => void) | undefined;

  content(chunk: ArchiveChunk): void | Promise<void> {
    if (this.cancelled) return undefined;
    this.item = chunk;
    this.wake();
    return new Promise<void>((resolve) => {
      this.releaseProducer = resolve;
    });
  }

  async finish(): Promise<void> {
    this.done = true;
    this.wake();
  }

  async abort(err?: unknown): Promise<void> {
    this.fail(err ?? new Error('archive reading aborted'));
  }

  fail(err: unknown): void {
    if (!this.done) this.failure = err;
    this.done = true;
    this.wake();
  }

  cancel(): void {
    this.cancelled = true;
    this.done = true;
    this.release();
  }

  isCancelled(): boolean {
    return this.cancelled;
  }

  private wake(): void {
    const w = this.wakeConsumer;
    this.wakeConsumer = undefined;
    w?.();
  }

  private release(): void {
    const r = this.releaseProducer;
    this.releaseProducer = undefined;
    r?.();
  }

  /** The next chunk, or undefined at the end of the archive. */
  async next(): Promise<ArchiveChunk | undefined> {
    this.release();
    while (this.item === undefined && !this.done) {
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
      });
    }
    const it = this.item;
    this.item = undefined;
    if (it !== undefined) return it;
    if (this.failure !== undefined) throw this.failure;
    return undefined;
  }
}

/** A pull cursor over an archive's chunks. */
class ArchiveCursor {
  private readonly channel = new ChunkChannel();
  private readonly pump: Promise<void>;

  constructor(path: string, compression: CompressionAlgorithm) {
    this.pump = pumpArchiveFile(path, compression, this.channel, { stopped: () => this.channel.isCancelled() }).catch((e) =>
      this.channel.fail(e),
    );
  }

  next(): Promise<ArchiveChunk | undefined> {
    return this.channel.next();
  }

  async close(): Promise<void> {
    this.channel.cancel();
    await this.pump;
  }
}

export interface TarWalSourceOptions {
  /** The archive file. */
  path: string;
  compression: CompressionAlgorithm;
  /** Members holding WAL: '' for pg_wal.tar (names at the top), 'pg_wal/' for a base.tar. */
  prefix: string;
}

/** The WAL file name of a member (prefix removed, a leading "./" tolerated), or undefined. */
function segmentNameOf(memberName: string, prefix: string): string | undefined {
  const n = memberName.startsWith('./') ? memberName.slice(2) : memberName;
  if (!n.startsWith(prefix)) return undefined;
  const rest = n.slice(prefix.length);
  return rest.includes('/') || rest === '' ? undefined : rest;
}

export class TarWalSource implements WalSegmentSource {
  /** Regular members holding segment files, in archive order. */
  private names: string[] = [];
  private cursor: ArchiveCursor | undefined;
  /** Index (in `names`) of the member the cursor is in, -1 before the first. */
  private at = -1;
  /** Bytes of the current member from its start, up to one page, kept for re-reads of the first page. */
  private firstPage = Buffer.alloc(0);
  /** Bytes [winStart, winStart + window.length) of the current member. */
  private window = Buffer.alloc(0);
  private winStart = 0;
  private memberDone = false;

  private constructor(private readonly o: TarWalSourceOptions) {}

  /** List the archive; returns the source and the first page of its first WAL member, if any. */
  static async open(o: TarWalSourceOptions): Promise<{ source: TarWalSource; first?: { name: string; head: Buffer } }> {
    const s = new TarWalSource(o);
    let first: { name: string; head: Buffer } | undefined;
    const cursor = new ArchiveCursor(o.path, o.compression);
    try {
      let collecting: Buffer[] | undefined;
      let collected = 0;
      for (let c = await cursor.next(); c !== undefined; c = await cursor.next()) {
        if (c.kind === 'header' && c.member.type === 'file') {
          const name = segmentNameOf(c.member.name, o.prefix);
          if (name !== undefined && /^[0-9A-F]{24}$/.test(name)) {
            s.names.push(name);
            if (first === undefined) {
              first = { name, head: Buffer.alloc(0) };
              collecting = [];
            }
          }
        } else if (c.kind === 'data' && collecting !== undefined && collected < XLOG_BLCKSZ) {
          const piece = Buffer.from(c.buf.subarray(0, XLOG_BLCKSZ - collected));
          collecting.push(piece);
          collected += piece.length;
        } else if (c.kind === 'trailer' && collecting !== undefined && first !== undefined) {
          first.head = Buffer.concat(collecting);
          collecting = undefined;
        }
      }
    } finally {
      await cursor.close();
    }
    return first === undefined ? { source: s } : { source: s, first };
  }

  async open(name: string): Promise<WalSegmentFile | undefined> {
    const index = this.names.indexOf(name);
    if (index < 0) return undefined;
    return {
      read: (offset, length) => this.read(index, offset, length),
      close: async () => undefined,
    };
  }

  async close(): Promise<void> {
    const c = this.cursor;
    this.cursor = undefined;
    await c?.close();
  }

  private async restart(): Promise<void> {
    await this.close();
    this.cursor = new ArchiveCursor(this.o.path, this.o.compression);
    this.at = -1;
  }

  /** Move the cursor to the start of member `index`'s data. */
  private async seek(index: number): Promise<void> {
    if (this.cursor === undefined || this.at >= index) await this.restart();
    const cursor = this.cursor as ArchiveCursor;
    while (this.at < index) {
      const c = await cursor.next();
      if (c === undefined) throw new WalReadFatal(`could not find file "${this.names[index]}": archive ended early`);
      if (c.kind === 'header' && c.member.type === 'file') {
        const name = segmentNameOf(c.member.name, this.o.prefix);
        if (name !== undefined && name === this.names[this.at + 1]) this.at++;
      }
    }
    this.firstPage = Buffer.alloc(0);
    this.window = Buffer.alloc(0);
    this.winStart = 0;
    this.memberDone = false;
  }

  private async read(index: number, offset: number, length: number): Promise<Buffer> {
    if (index !== this.at) await this.seek(index);
    if (offset + length <= this.firstPage.length) return Buffer.from(this.firstPage.subarray(offset, offset + length));
    if (offset < this.winStart) {
      await this.seek(index);
    }
    // Drop what lies before offset.
    const drop = Math.min(this.window.length, offset - this.winStart);
    if (drop > 0) {
      this.window = this.window.subarray(drop);
      this.winStart += drop;
    }
    const cursor = this.cursor as ArchiveCursor;
    while (!this.memberDone && this.winStart + this.window.length < offset + length) {
      const c = await cursor.next();
      if (c === undefined || c.kind !== 'data') {
        this.memberDone = true;
        break;
      }
      const end = this.winStart + this.window.length;
      if (this.firstPage.length < XLOG_BLCKSZ && end === this.firstPage.length) {
        this.firstPage = Buffer.concat([this.firstPage, c.buf.subarray(0, XLOG_BLCKSZ - this.firstPage.length)]);
      }
      let piece = c.buf;
      if (end < offset) {
        // bytes wholly before the wanted range are skipped
        const skip = Math.min(piece.length, offset - end);
        piece = piece.subarray(skip);
        this.winStart += skip;
      }
      this.window = this.window.length === 0 ? Buffer.from(piece) : Buffer.concat([this.window, piece]);
    }
    const from = offset - this.winStart;
    return Buffer.from(this.window.subarray(Math.max(0, from), Math.max(0, from) + length));
  }
}
