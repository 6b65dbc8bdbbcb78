/**
 * WAL as it arrives, offered to the WAL reader (src/wal/read) as if it were segment files: the WAL
 * receiver (-X stream) or the base archive's pg_wal/ members (-X fetch) push bytes at their LSN, the
 * reader pulls pages in order.  Nothing is read back from disk.
 *
 * Memory stays bounded: a push that gets more than `maxAhead` bytes ahead of the reader waits until
 * the reader catches up, and bytes more than `keepBehind` behind the reader's last read are dropped.
 * When the stream ends, reads are answered with what arrived, zero-filled: a reader stopping at the
 * backup's end LSN never needs bytes past what the server sent.
 */
import { walFileName, type Lsn, type TimeLineId } from '../../lsn.js';
import type { WalSegmentFile, WalSegmentSource } from '../../wal/read/segment-source.js';

interface Piece {
  start: Lsn;
  data: Buffer;
}

interface PendingRead {
  start: Lsn;
  end: Lsn;
  resolve: (b: Buffer) => void;
}

export interface StreamedWalSourceOptions {
  walSegSize: number;
  timeline: TimeLineId;
  maxAhead?: number;
  keepBehind?: number;
}

export class StreamedWalSource implements WalSegmentSource {
  private readonly segSize: bigint;
  private readonly maxAhead: bigint;
  private readonly keepBehind: bigint;
  private pieces: Piece[] = [];
  /** End of the contiguous bytes received (pushes must arrive in LSN order). */
  private received: Lsn | undefined;
  private readPos: Lsn = 0n;
  private ended = false;
  private pending: PendingRead | undefined;
  private spaceWaiters: (() => void)[] = [];

  constructor(private readonly o: StreamedWalSourceOptions) {
    this.segSize = BigInt(o.walSegSize);
    this.maxAhead = BigInt(o.maxAhead ?? 32 * 1024 * 1024);
    this.keepBehind = BigInt(o.keepBehind ?? 1024 * 1024);
  }

  /** Bytes at `lsn` (copied).  A returned promise means: wait before pushing more. */
  push(lsn: Lsn, data: Buffer): void | Promise<void> {
    if (this.ended || data.length === 0) return undefined;
    const end = lsn + BigInt(data.length);
    if (this.received !== undefined && end <= this.received) return undefined; // sent again (e.g. after a reconnect)
    let from = lsn;
    let bytes = data;
    if (this.received !== undefined && lsn < this.received) {
      bytes = data.subarray(Number(this.received - lsn));
      from = this.received;
    }
    this.pieces.push({ start: from, data: Buffer.from(bytes) });
    if (this.received === undefined && this.readPos < from) this.readPos = from; // the stream starts here, not at 0
    if (this.received === undefined || from <= this.received) this.received = end;
    this.serve();
    if (end - this.readPos > this.maxAhead) return new Promise((r) => this.spaceWaiters.push(r));
    return undefined;
  }

  /** No more bytes: pending and later reads get what arrived, zero-filled. */
  end(): void {
    this.ended = true;
    this.serve();
    this.releaseSpace();
  }

  async open(name: string): Promise<WalSegmentFile | undefined> {
    const segNo = segNoOfName(name, this.o.timeline, this.o.walSegSize);
    if (segNo === undefined) return undefined;
    const base = segNo * this.segSize;
    return {
      read: (offset, length) => this.read(base + BigInt(offset), length),
      close: async () => undefined,
    };
  }

  async close(): Promise<void> {
    this.ended = true;
    this.pieces = [];
    this.releaseSpace();
  }

  private read(start: Lsn, length: number): Promise<Buffer> {
    if (this.pending !== undefined) return Promise.reject(new Error('StreamedWalSource: one read at a time'));
    return new Promise((resolve) => {
      this.pending = { start, end: start + BigInt(length), resolve };
      this.serve();
    });
  }

  /** Answers the pending read once its bytes are there (or the stream ended); trims and frees space. */
  private serve(): void {
    const p = this.pending;
    if (p === undefined) return;
    const have = this.received ?? 0n;
    if (have < p.end && !this.ended) return;
    this.pending = undefined;
    const out = Buffer.alloc(Number(p.end - p.start));
    for (const piece of this.pieces) {
      const pEnd = piece.start + BigInt(piece.data.length);
      if (pEnd <= p.start || piece.start >= p.end) continue;
      const from = piece.start > p.start ? piece.start : p.start;
      const to = pEnd < p.end ? pEnd : p.end;
      piece.data.copy(out, Number(from - p.start), Number(from - piece.start), Number(to - piece.start));
    }
    if (p.end > this.readPos) this.readPos = p.end;
    const keepFrom = this.readPos > this.keepBehind ? this.readPos - this.keepBehind : 0n;
    this.pieces = this.pieces.filter((x) => x.start + BigInt(x.data.length) > keepFrom);
    if ((this.received ?? 0n) - this.readPos <= this.maxAhead) this.releaseSpace();
    p.resolve(out);
  }

  private releaseSpace(): void {
    const w = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const r of w) r();
  }
}

function segNoOfName(name: string, timeline: TimeLineId, walSegSize: number): bigint | undefined {
  const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!m || parseInt(m[1] as string, 16) !== timeline) return undefined;
  const perId = BigInt(0x100000000) / BigInt(walSegSize);
  const segNo = BigInt(`0x${m[2]}`) * perId + BigInt(`0x${m[3]}`);
  return walFileName(timeline, segNo, walSegSize) === name ? segNo : undefined;
}
