/**
 * What `pg_waldump --quiet --timeline=T --start=S --end=E` does over one WAL range, without
 * pg_waldump: position on the first record at or after S, then read every record up to E.  The outcome
 * lists the lines pg_waldump would print (its level and text) and whether it would have failed.
 */
import { formatLsn, type Lsn, type TimeLineId } from '../../lsn.js';
import { WalReadFatal, type WalSegmentSource } from './segment-source.js';
import type { WalFormat } from './wal-format.js';
import { XLogReader } from './xlog-reader.js';

export interface WalMessage {
  level: 'error' | 'detail' | 'hint' | 'info';
  text: string;
}

export interface WalRangeOutcome {
  failed: boolean;
  messages: WalMessage[];
  /** Records read and checked. */
  records: number;
}

export interface WalRange {
  timeline: TimeLineId;
  startLsn: Lsn;
  endLsn: Lsn;
}

export interface WalRangeCheckOptions {
  source: WalSegmentSource;
  walSegSize: number;
  format: WalFormat;
  systemIdentifier?: bigint | undefined;
}

/** The messages of a fatal error from finding or reading the WAL. */
export function fatalMessages(e: WalReadFatal): WalMessage[] {
  const out: WalMessage[] = [{ level: 'error', text: e.message }];
  if (e.detail !== undefined) out.push({ level: 'detail', text: e.detail });
  if (e.hint !== undefined) out.push({ level: 'hint', text: e.hint });
  return out;
}

export async function checkWalRange(range: WalRange, o: WalRangeCheckOptions): Promise<WalRangeOutcome> {
  const reader = new XLogReader({
    source: o.source,
    walSegSize: o.walSegSize,
    timeline: range.timeline,
    endPtr: range.endLsn,
    format: o.format,
    systemIdentifier: o.systemIdentifier,
  });
  const messages: WalMessage[] = [];
  const fail = (text: string): WalRangeOutcome => ({
    failed: true,
    messages: [...messages, { level: 'error', text }],
    records: reader.recordCount,
  });
  try {
    const first = await reader.findNextRecord(range.startLsn);
    if (first === undefined) return fail(`could not find a valid record after ${formatLsn(range.startLsn)}`);
    if (first !== range.startLsn && range.startLsn % BigInt(o.walSegSize) !== 0n) {
      const skipped = first - range.startLsn;
      messages.push({
        level: 'info',
        text: `first record is after ${formatLsn(range.startLsn)}, at ${formatLsn(first)}, skipping over ${skipped} byte${skipped === 1n ? '' : 's'}`,
      });
    }
    reader.recordCount = 0;
    while ((await reader.readRecord()) !== undefined) {
      // each record has been checked while it was read
    }
    if (reader.errorMessage !== undefined) {
      return fail(`error in WAL record at ${formatLsn(reader.readRecPtr)}: ${reader.errorMessage}`);
    }
    return { failed: false, messages, records: reader.recordCount };
  } catch (e) {
    if (e instanceof WalReadFatal) return { failed: true, messages: [...messages, ...fatalMessages(e)], records: reader.recordCount };
    throw e;
  } finally {
    await reader.close();
  }
}
