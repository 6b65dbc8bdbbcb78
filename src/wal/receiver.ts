/**
 * Receiving WAL over START_REPLICATION (receivelog.c ReceiveXlogStream / HandleCopyStream), for
 * pg_basebackup's -X stream: from the start of the segment that holds the backup's start LSN until
 * the backup's end LSN, following timeline switches.
 *
 * - XLogData is written into segment files, split at segment boundaries; each complete segment is
 *   closed and marked done; offsets must be contiguous.
 * - Keepalives that ask for a reply are answered at once; a timer sends status updates every
 *   statusInterval seconds whatever the archive stream is doing.
 * - The stop position may become known at any time (stop()); it is checked at once, after every
 *   XLogData and at segment ends.  Then we send CopyDone and read the server's end of the stream.
 */
import { ProtocolError, PgBasebackupError } from '../errors.js';
import { formatLsn, lsnToSegNo, parseLsn, segmentOffset, timelineHistoryFileName, walFileName, type Lsn, type TimeLineId } from '../lsn.js';
import { timelineHistory } from '../protocol/commands.js';
import type { PgConnection } from '../protocol/connection.js';
import type { BackendEvent } from '../protocol/types.js';
import { buildStatusUpdate, parseWalStreamMessage, pgNow } from './messages.js';
import type { WalSegmentFile, WalWriter } from './wal-writer.js';

export interface ReceiveXlogOptions {
  conn: PgConnection;
  writer: WalWriter;
  startLsn: Lsn;
  timeline: TimeLineId;
  walSegSize: number;
  slot?: string | undefined;
  /** Report the flush position (only when a slot is used, so a slot-less run never looks synchronous). */
  reportFlushPosition: boolean;
  /** Seconds between status updates; 0 = only when asked. */
  statusInterval: number;
  /** Fetch and write timeline history files for timelines > 1. */
  fetchHistory: boolean;
}

export class WalReceiver {
  private stopLsn: Lsn | undefined;
  private blockPos: Lsn = 0n;
  private lastFlushPosition: Lsn = 0n;
  private file: { seg: WalSegmentFile; name: string; segStart: Lsn } | undefined;
  private stillSending = true;
  private wakeStop: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly historyWritten = new Set<TimeLineId>();
  /** Highest position fully received (for results and tests). */
  get position(): Lsn {
    return this.blockPos;
  }

  constructor(private readonly o: ReceiveXlogOptions) {}

  /** The backup's end position is known: stop once WAL up to it has been received. */
  stop(endLsn: Lsn): void {
    this.stopLsn = endLsn;
    this.wakeStop?.();
  }

  private reachedEnd(): boolean {
    return this.stopLsn !== undefined && this.blockPos >= this.stopLsn;
  }

  private sendStatus(replyRequested = false): void {
    const flush = this.o.reportFlushPosition ? this.lastFlushPosition : 0n;
    this.o.conn.sendCopyData(buildStatusUpdate(this.blockPos, flush, 0n, pgNow(), replyRequested));
  }

  /** Run until the stop position is reached (resolves) or something fails (rejects). */
  async run(): Promise<void> {
    let startLsn = this.o.startLsn;
    let timeline = this.o.timeline;
    try {
      for (;;) {
        if (this.o.fetchHistory && timeline > 1 && !this.historyWritten.has(timeline)) await this.writeHistory(timeline);
        this.blockPos = startLsn;
        if (this.reachedEnd()) return;
        const next = await this.streamTimeline(startLsn, timeline);
        if (next === undefined) {
          if (this.reachedEnd()) return;
          throw new PgBasebackupError('PGBB_WAL_RECEIVER', 'replication stream was terminated before stop point');
        }
        if (next.timeline <= timeline) {
          throw new ProtocolError(`server reported unexpected next timeline ${next.timeline}, following timeline ${timeline}`);
        }
        timeline = next.timeline;
        // Restart at the segment start on the new timeline, as pg does.
        startLsn = next.startLsn - (next.startLsn % BigInt(this.o.walSegSize));
      }
    } finally {
      this.clearTimer();
      await this.closeFile().catch(() => undefined);
    }
  }

  private async writeHistory(tli: TimeLineId): Promise<void> {
    const { fileName, content } = await timelineHistory(this.o.conn, tli);
    const expected = timelineHistoryFileName(tli);
    if (fileName !== expected) throw new ProtocolError(`server reported unexpected history file name for timeline ${tli}: ${fileName}`);
    await this.o.writer.writeFile(fileName, content);
    await this.o.writer.markDone(fileName);
    this.historyWritten.add(tli);
  }

  private clearTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One START_REPLICATION on one timeline.  Returns the next timeline after a switch, or undefined
   * when the stream ended (we stopped it, or the server ended it).
   */
  private async streamTimeline(start: Lsn, timeline: TimeLineId): Promise<{ timeline: TimeLineId; startLsn: Lsn } | undefined> {
    const slotClause = this.o.slot !== undefined ? `SLOT "${this.o.slot.replace(/"/g, '""')}" ` : '';
    const sql = `START_REPLICATION ${slotClause}${formatLsn(start)} TIMELINE ${timeline}`;
    const events = this.o.conn.query(sql)[Symbol.asyncIterator]();
    this.stillSending = true;
    this.streamingTimeline = timeline;
    let inCopy = false;
    let nextTimeline: { timeline: TimeLineId; startLsn: Lsn } | undefined;
    let pendingRow: (string | null)[] | undefined;

    // Wake-up when stop() is called while we wait for data: check at once, as pg's select() on the pipe does.
    const onStop = () => {
      if (inCopy && this.stillSending && this.reachedEnd()) void this.endCopy();
    };
    this.wakeStop = onStop;

    for (;;) {
      let r: IteratorResult<BackendEvent>;
      try {
        r = await events.next();
      } catch (e) {
        this.wakeStop = undefined;
        this.clearTimer();
        if (e instanceof PgBasebackupError && 'sqlState' in e) {
          throw new PgBasebackupError('PGBB_WAL_RECEIVER', `could not send replication command "START_REPLICATION": ${e.message}`, { cause: e });
        }
        throw e;
      }
      if (r.done) break;
      const ev = r.value;
      switch (ev.kind) {
        case 'copyBothResponse':
          inCopy = true;
          if (this.o.statusInterval > 0) {
            this.timer = setInterval(() => {
              if (this.stillSending) this.sendStatus();
            }, this.o.statusInterval * 1000);
            this.timer.unref();
          }
          // Stop position may already be reached (all WAL arrived before the end LSN was known).
          onStop();
          break;
        case 'copyData':
          if (!this.stillSending) break; // after our CopyDone, ignore the rest
          await this.handleCopyData(ev.data);
          break;
        case 'copyDone':
          // Server ended COPY (end of timeline or shutdown); answer with ours if not yet sent.
          inCopy = false;
          this.clearTimer();
          if (this.stillSending) await this.endCopy();
          break;
        case 'rowDescription':
          break;
        case 'dataRow':
          pendingRow = ev.values.map((v) => (v === null ? null : v.toString('utf8')));
          break;
        case 'commandComplete':
          if (pendingRow) {
            const tli = Number.parseInt(pendingRow[0] ?? '', 10);
            const pos = parseLsn(pendingRow[1] ?? '');
            if (!Number.isFinite(tli) || pos === undefined) {
              throw new ProtocolError(`could not parse next timeline's starting point "${pendingRow[1] ?? ''}"`);
            }
            nextTimeline = { timeline: tli, startLsn: pos };
            pendingRow = undefined;
          }
          break;
        default:
          throw new ProtocolError(`unexpected result status after replication stream: ${ev.kind}`);
      }
    }
    this.wakeStop = undefined;
    this.clearTimer();
    await this.closeFile();
    if (nextTimeline && !this.reachedEnd()) return nextTimeline;
    return undefined;
  }

  private async endCopy(): Promise<void> {
    if (!this.stillSending) return;
    this.stillSending = false;
    await this.closeFile();
    this.o.conn.sendCopyDone();
  }

  private async handleCopyData(buf: Buffer): Promise<void> {
    const msg = parseWalStreamMessage(buf);
    if (msg.kind === 'keepalive') {
      if (msg.replyRequested && this.stillSending) this.sendStatus();
      return;
    }
    let xlogoff = segmentOffset(msg.dataStart, this.o.walSegSize);
    if (this.file === undefined) {
      if (xlogoff !== 0) throw new ProtocolError(`received write-ahead log record for offset ${xlogoff} with no file open`);
      this.blockPos = msg.dataStart;
    } else {
      const currpos = segmentOffset(this.blockPos, this.o.walSegSize);
      if (currpos !== xlogoff) throw new ProtocolError(`got WAL data offset ${hex8(xlogoff)}, expected ${hex8(currpos)}`);
    }
    let data = msg.data;
    while (data.length > 0) {
      if (this.file === undefined) {
        const segNo = lsnToSegNo(this.blockPos, this.o.walSegSize);
        const name = walFileName(this.currentTimeline(), segNo, this.o.walSegSize);
        const seg = await this.o.writer.openSegment(name);
        this.file = { seg, name, segStart: this.blockPos - BigInt(xlogoff) };
      }
      const room = this.o.walSegSize - xlogoff;
      const n = Math.min(room, data.length);
      await this.file.seg.write(xlogoff, data.subarray(0, n));
      this.blockPos += BigInt(n);
      data = data.subarray(n);
      xlogoff += n;
      if (xlogoff === this.o.walSegSize) {
        await this.closeFile();
        xlogoff = 0;
        if (this.reachedEnd()) {
          await this.endCopy();
          return;
        }
      }
    }
    if (this.reachedEnd()) await this.endCopy();
  }

  private streamingTimeline: TimeLineId | undefined;
  private currentTimeline(): TimeLineId {
    return this.streamingTimeline ?? this.o.timeline;
  }

  private async closeFile(): Promise<void> {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    await f.seg.close();
    const complete = this.blockPos - f.segStart >= BigInt(this.o.walSegSize);
    this.lastFlushPosition = this.blockPos;
    if (complete) await this.o.writer.markDone(f.name);
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
