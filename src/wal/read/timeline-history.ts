/**
 * Timeline history files (`%08X.history`, src/backend/access/transam/timeline.c): one line per
 * ancestor timeline, "<parent TLI>\t<switchpoint %X/%X>\t<reason>", blank lines and "#" comments
 * ignored; timeline IDs increase and stay below the file's own.  Parsing failures carry pg's texts
 * (message and hint).  tliOfSegment() says which timeline's file holds a segment when reading a
 * timeline's WAL across its ancestors: the one current at the segment's last byte, so that the
 * segment holding a switch point is read from the newer timeline, as the server does.
 */
import { parseLsn, type Lsn, type TimeLineId } from '../../lsn.js';

export interface TimeLineHistoryEntry {
  tli: TimeLineId;
  /** First LSN of this timeline (0 for the first entry). */
  begin: Lsn;
  /** First LSN not on this timeline (undefined: the current, open-ended timeline). */
  end: Lsn | undefined;
}

export class TimelineHistoryError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'TimelineHistoryError';
  }
}

/** The history of `targetTli` from its file's text: oldest first, ending with targetTli itself. */
export function parseTimelineHistory(text: string, targetTli: TimeLineId): TimeLineHistoryEntry[] {
  const out: TimeLineHistoryEntry[] = [];
  let prevEnd: Lsn = 0n;
  let lastTli = 0;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const tliMatch = /^(\d+)/.exec(line);
    if (tliMatch === null) throw new TimelineHistoryError(`syntax error in history file: ${rawLine}`, 'Expected a numeric timeline ID.');
    const lsnMatch = /^\d+\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    const switchpoint = lsnMatch ? parseLsn(lsnMatch[1] as string) : undefined;
    if (switchpoint === undefined) {
      throw new TimelineHistoryError(`syntax error in history file: ${rawLine}`, 'Expected a write-ahead log switchpoint location.');
    }
    const tli = Number(tliMatch[1]);
    if (out.length > 0 && tli <= lastTli) {
      throw new TimelineHistoryError(`invalid data in history file: ${rawLine}`, 'Timeline IDs must be in increasing sequence.');
    }
    out.push({ tli, begin: prevEnd, end: switchpoint });
    prevEnd = switchpoint;
    lastTli = tli;
  }
  if (out.length > 0 && targetTli <= lastTli) {
    throw new TimelineHistoryError('invalid data in history file', "Timeline IDs must be less than child timeline's ID.");
  }
  out.push({ tli: targetTli, begin: prevEnd, end: undefined });
  return out;
}

/** The timeline whose file holds the segment [segStart, segStart + walSegSize) on this history. */
export function tliOfSegment(history: readonly TimeLineHistoryEntry[], segStart: Lsn, walSegSize: number): TimeLineId {
  const last = segStart + BigInt(walSegSize) - 1n;
  for (const e of history) {
    if (e.end === undefined || last < e.end) return e.tli;
  }
  return (history[history.length - 1] as TimeLineHistoryEntry).tli;
}
