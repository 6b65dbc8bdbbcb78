/**
 * Writing XLogData into segment files (receivelog.c ProcessXLogDataMsg, open_walfile, close_walfile):
 *
 * - With no segment open, data must start at offset 0 of a segment:
 *   `received write-ahead log record for offset %u with no file open`.
 * - With a segment open, data must continue where the last message ended:
 *   `got WAL data offset %08x, expected %08x`.
 * - Data is split at segment boundaries; a segment that reached its end is closed and marked done
 *   (archive_status/<seg>.done); an incomplete one is closed without the mark.
 * - The flush position (reported only when a slot is used) advances when a segment is closed, and
 *   when the server asks for a reply while a segment is open (pg fsyncs there only when it syncs at
 *   all; pg_basebackup syncs everything at the end instead).
 */
import { ProtocolError } from '../errors.js';
import { lsnToSegNo, segmentOffset, walFileName, type Lsn, type TimeLineId } from '../lsn.js';
import type { WalSegmentFile, WalWriter } from './wal-writer.js';

interface OpenSegment {
  file: WalSegmentFile;
  name: string;
  /** Bytes written so far (pg: the file position). */
  written: number;
}

export class XLogDataWriter {
  /** Position after the last byte received (pg's blockpos). */
  blockPos: Lsn;
  /** Position up to which closed (or flushed) segments hold WAL. */
  lastFlushPosition: Lsn;
  private segment: OpenSegment | undefined;

  constructor(
    private readonly writer: WalWriter,
    private readonly walSegSize: number,
    startLsn: Lsn,
  ) {
    this.blockPos = startLsn;
    this.lastFlushPosition = startLsn;
  }

  get fileOpen(): boolean {
    return this.segment !== undefined;
  }

  /**
   * Write one XLogData payload starting at `dataStart`, on `timeline`.  After each completed
   * segment `atSegmentEnd()` is asked whether to stop; if it says yes, the rest of the payload is
   * ignored (as pg does) and 'stop' is returned.
   */
  async write(dataStart: Lsn, data: Buffer, timeline: TimeLineId, atSegmentEnd: () => boolean): Promise<'continue' | 'stop'> {
    let xlogoff = segmentOffset(dataStart, this.walSegSize);
    if (this.segment === undefined) {
      if (xlogoff !== 0) throw new ProtocolError(`received write-ahead log record for offset ${xlogoff} with no file open`);
    } else if (this.segment.written !== xlogoff) {
      throw new ProtocolError(`got WAL data offset ${hex8(xlogoff)}, expected ${hex8(this.segment.written)}`);
    }
    this.blockPos = dataStart;

    let rest = data;
    while (rest.length > 0) {
      const n = Math.min(this.walSegSize - xlogoff, rest.length);
      if (this.segment === undefined) {
        const name = walFileName(timeline, lsnToSegNo(this.blockPos, this.walSegSize), this.walSegSize);
        this.segment = { file: await this.writer.openSegment(name), name, written: 0 };
      }
      const seg = this.segment;
      await seg.file.write(xlogoff, rest.subarray(0, n));
      seg.written += n;
      this.blockPos += BigInt(n);
      rest = rest.subarray(n);
      xlogoff += n;
      if (xlogoff === this.walSegSize) {
        await this.close();
        xlogoff = 0;
        if (atSegmentEnd()) return 'stop';
      }
    }
    return 'continue';
  }

  /** The server asked for a reply: report everything written so far as flushed (slot users only). */
  noteReplyFlush(): void {
    if (this.segment !== undefined && this.lastFlushPosition < this.blockPos) this.lastFlushPosition = this.blockPos;
  }

  /** close_walfile(): close the open segment, marking it done when it is complete. */
  async close(): Promise<void> {
    const seg = this.segment;
    if (seg === undefined) return;
    this.segment = undefined;
    await seg.file.close();
    if (seg.written === this.walSegSize) await this.writer.markDone(seg.name);
    this.lastFlushPosition = this.blockPos;
  }

  /** Close without marking anything (on failure); never throws. */
  async closeQuietly(): Promise<void> {
    const seg = this.segment;
    this.segment = undefined;
    await seg?.file.close().catch(() => undefined);
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
