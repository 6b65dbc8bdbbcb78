/**
 * Receiving WAL over START_REPLICATION (receivelog.c ReceiveXlogStream / HandleCopyStream), for
 * pg_basebackup's -X stream: from the start of the segment that holds the backup's start LSN until
 * the backup's end LSN, following timeline switches.
 *
 * - XLogData goes through XLogDataWriter (segments, offsets, done marks).
 * - Keepalives that ask for a reply are answered at once; FeedbackTimer sends status updates every
 *   statusInterval seconds whatever the archive stream is doing.
 * - The stop position may become known at any time (stop()): it is checked at once, after every
 *   XLogData and at segment ends.  Then we close the segment, send CopyDone, ignore further data and
 *   read the server's end of the stream.
 * - The end of a stream: a result set (next timeline, where it starts) means a timeline switch, and
 *   streaming restarts there at the segment start; CommandComplete alone is the server's controlled
 *   end, fine only when the stop position was reached.  The server may also skip COPY altogether
 *   when the start point is the switch point, sending only the result set.
 */
import { ConnectionError, PgBasebackupError, ProtocolError, ServerError } from '../errors.js';
import { formatLsn, parseLsn, segmentStart, timelineHistoryFileName, type Lsn, type TimeLineId } from '../lsn.js';
import { quoteIdent, timelineHistory } from '../protocol/commands.js';
import type { PgConnection } from '../protocol/connection.js';
import type { BackendEvent } from '../protocol/types.js';
import { FeedbackTimer, realClock, type FeedbackClock } from './feedback-timer.js';
import { buildStatusUpdate, parseWalStreamMessage, pgNow } from './messages.js';
import type { WalWriter } from './wal-writer.js';
import { XLogDataWriter } from './xlog-data-writer.js';

export interface ReceiveXlogOptions {
  conn: PgConnection;
  writer: WalWriter;
  /** Must be a segment start. */
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
  /** Time source for status updates (tests). */
  clock?: FeedbackClock;
}

/** How one START_REPLICATION ended. */
type StreamEnd = { kind: 'end'; stopPos: Lsn } | { kind: 'switch'; stopPos: Lsn; timeline: TimeLineId; startLsn: Lsn };

const STOP = Symbol('stop');

function terminatedBeforeStop(): PgBasebackupError {
  return new PgBasebackupError('PGBB_WAL_RECEIVER', 'replication stream was terminated before stop point');
}

export class WalReceiver {
  private stopLsn: Lsn | undefined;
  private readonly out: XLogDataWriter;
  private stillSending = false;
  private wake: (() => void) | undefined;
  private readonly historyWritten = new Set<TimeLineId>();
  private readonly feedback: FeedbackTimer;
  private readonly clock: FeedbackClock;

  constructor(private readonly o: ReceiveXlogOptions) {
    this.out = new XLogDataWriter(o.writer, o.walSegSize, o.startLsn);
    this.clock = o.clock ?? realClock;
    this.feedback = new FeedbackTimer(o.statusInterval, () => this.sendFeedback(), this.clock);
  }

  /** Position after the last byte received. */
  get position(): Lsn {
    return this.out.blockPos;
  }

  /** The backup's end position is known: stop once WAL up to it has been received. */
  stop(endLsn: Lsn): void {
    this.stopLsn = endLsn;
    this.wake?.();
  }

  private reached(pos: Lsn): boolean {
    return this.stopLsn !== undefined && pos >= this.stopLsn;
  }

  private sendFeedback(): void {
    const flush = this.o.reportFlushPosition ? this.out.lastFlushPosition : 0n;
    this.o.conn.sendCopyData(buildStatusUpdate(this.out.blockPos, flush, 0n, pgNow(this.clock.now()), false));
  }

  /** Run until the stop position is reached (resolves) or something fails (rejects). */
  async run(): Promise<void> {
    let startLsn = this.o.startLsn;
    let timeline = this.o.timeline;
    try {
      for (;;) {
        if (this.o.fetchHistory && timeline > 1 && !this.historyWritten.has(timeline)) await this.writeHistory(timeline);
        if (this.reached(startLsn)) return;
        const end = await this.streamTimeline(startLsn, timeline);
        if (end.kind === 'end') {
          if (this.reached(end.stopPos)) return;
          throw terminatedBeforeStop();
        }
        if (end.timeline <= timeline) {
          throw new ProtocolError(`server reported unexpected next timeline ${end.timeline}, following timeline ${timeline}`);
        }
        if (end.startLsn > end.stopPos) {
          throw new ProtocolError(
            `server stopped streaming timeline ${timeline} at ${formatLsn(end.stopPos)}, but reported next timeline ${end.timeline} to begin at ${formatLsn(end.startLsn)}`,
          );
        }
        timeline = end.timeline;
        startLsn = segmentStart(end.startLsn, this.o.walSegSize);
      }
    } finally {
      this.feedback.stop();
      this.wake = undefined;
      await this.out.closeQuietly();
    }
  }

  private async writeHistory(tli: TimeLineId): Promise<void> {
    const { fileName, content } = await timelineHistory(this.o.conn, tli);
    if (fileName !== timelineHistoryFileName(tli)) {
      throw new ProtocolError(`server reported unexpected history file name for timeline ${tli}: ${fileName}`);
    }
    await this.o.writer.writeFile(fileName, content);
    await this.o.writer.markDone(fileName);
    this.historyWritten.add(tli);
  }

  /** One START_REPLICATION on one timeline, until the server's CommandComplete. */
  private async streamTimeline(start: Lsn, timeline: TimeLineId): Promise<StreamEnd> {
    const slot = this.o.slot !== undefined ? `SLOT ${quoteIdent(this.o.slot)} ` : '';
    const events = this.o.conn.query(`START_REPLICATION ${slot}${formatLsn(start)} TIMELINE ${timeline}`);
    this.out.blockPos = start;
    let phase: 'start' | 'copy' | 'results' = 'start';
    let stopPos = start;
    const rows: (string | null)[][] = [];
    let nfields = 0;
    let pending = settle(events.next());
    for (;;) {
      // stop() may have come while the last message was being handled.
      if (phase === 'copy') await this.checkStop();
      // While the stop position is unknown, stop() must wake us up even if the server sends nothing.
      // A fresh signal each turn: racing one long-lived promise would pile up reactions on it.
      const waitForStop = phase === 'copy' && this.stillSending && this.stopLsn === undefined;
      const r = waitForStop ? await Promise.race([pending, this.stopSignal()]) : await pending;
      if (r === STOP) {
        await this.checkStop();
        continue;
      }
      if (r instanceof Error) throw this.streamError(r, phase);
      if (r.done) break;
      const ev: BackendEvent = r.value;
      switch (ev.kind) {
        case 'copyBothResponse':
          phase = 'copy';
          this.stillSending = true;
          this.feedback.start();
          await this.checkStop();
          break;
        case 'copyData':
          if (this.stillSending) await this.handleCopyData(ev.data, timeline);
          break;
        case 'copyDone':
          // The server ended its side (end of timeline, or shutdown): close and answer with ours.
          stopPos = this.out.blockPos;
          if (this.stillSending) await this.endCopy();
          phase = 'results';
          break;
        case 'rowDescription':
          phase = 'results';
          nfields = ev.fields.length;
          break;
        case 'dataRow':
          rows.push(ev.values.map((v) => (v === null ? null : v.toString('utf8'))));
          break;
        case 'commandComplete':
          break;
        default:
          throw new ProtocolError(`unexpected result status after replication stream: ${ev.kind}`);
      }
      pending = settle(events.next());
    }
    this.feedback.stop();
    if (phase === 'copy') stopPos = this.out.blockPos;
    if (nfields === 0 && rows.length === 0) return { kind: 'end', stopPos };
    return { kind: 'switch', stopPos, ...parseEndOfStreaming(rows, nfields) };
  }

  private stopSignal(): Promise<typeof STOP> {
    return new Promise((resolve) => {
      this.wake = () => resolve(STOP);
    });
  }

  /** CheckCopyStreamStop(): stop once the position reached the end. */
  private async checkStop(): Promise<void> {
    if (this.stillSending && this.reached(this.out.blockPos)) await this.endCopy();
  }

  private async endCopy(): Promise<void> {
    this.stillSending = false;
    this.feedback.stop();
    await this.out.close();
    this.o.conn.sendCopyDone();
  }

  private async handleCopyData(buf: Buffer, timeline: TimeLineId): Promise<void> {
    const msg = parseWalStreamMessage(buf);
    if (msg.kind === 'keepalive') {
      if (msg.replyRequested) {
        if (this.o.reportFlushPosition) this.out.noteReplyFlush();
        this.sendFeedback();
        this.feedback.sentNow();
      }
      return;
    }
    const r = await this.out.write(msg.dataStart, msg.data, timeline, () => this.reached(this.out.blockPos));
    if (r === 'stop') {
      this.stillSending = false;
      this.feedback.stop();
      this.o.conn.sendCopyDone();
      return;
    }
    await this.checkStop();
  }

  /** pg's wording for a failure while streaming, by where it happened. */
  private streamError(e: Error, phase: 'start' | 'copy' | 'results'): Error {
    if (phase === 'start' && (e instanceof ServerError || e instanceof ConnectionError)) {
      return withPrefix(e, 'could not send replication command "START_REPLICATION"');
    }
    if (e instanceof ServerError) return withPrefix(e, 'unexpected termination of replication stream');
    if (e instanceof ConnectionError) return withPrefix(e, 'could not receive data from WAL stream');
    return e;
  }
}

/** The iterator's next result, or its failure as a value (so that a race never leaves a rejection unhandled). */
function settle(p: Promise<IteratorResult<BackendEvent>>): Promise<IteratorResult<BackendEvent> | Error> {
  return p.catch((e: unknown) => (e instanceof Error ? e : new PgBasebackupError('PGBB_INTERNAL', String(e))));
}

function withPrefix(e: ServerError | ConnectionError, prefix: string): PgBasebackupError {
  if (e instanceof ServerError) return e.wrap(prefix, 'PGBB_WAL_RECEIVER');
  return new PgBasebackupError('PGBB_WAL_RECEIVER', `${prefix}: ${e.message}`, { cause: e });
}

/** ReadEndOfStreamingResult(): (next_tli, next_tli_startpos). */
function parseEndOfStreaming(rows: (string | null)[][], nfields: number): { timeline: TimeLineId; startLsn: Lsn } {
  const row = rows[0];
  if (nfields < 2 || rows.length !== 1 || row === undefined) {
    throw new ProtocolError(
      `unexpected result set after end-of-timeline: got ${rows.length} rows and ${nfields} fields, expected 1 rows and 2 fields`,
    );
  }
  const text = row[1] ?? '';
  const startLsn = parseLsn(text);
  if (startLsn === undefined) throw new ProtocolError(`could not parse next timeline's starting point "${text}"`);
  return { timeline: Number.parseInt(row[0] ?? '', 10) || 0, startLsn };
}
