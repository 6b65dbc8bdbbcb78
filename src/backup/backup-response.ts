/**
 * Reads the response to BASE_BACKUP (servers 15+): result set 1 (start position), result set 2
 * (tablespaces), one COPY stream, result set 3 (end position), CommandComplete.  Each phase wraps
 * server errors with pg_basebackup's text for that phase.
 */
import { ProtocolError, ServerError } from '../errors.js';
import { parseLsn, type Lsn, type TimeLineId } from '../lsn.js';
import { strtoint, strtol } from '../options/c-strto.js';
import type { BackendEvent, BackendEventSource, CopyDataHandler } from '../protocol/types.js';

export interface ResultRows {
  nfields: number;
  rows: (string | null)[][];
}

export interface TablespaceInfo {
  /** null for the main data directory (always last). */
  oid: string | null;
  /** Server-side location; null for the main data directory. */
  location: string | null;
  /** Estimated size in kB (null without PROGRESS). */
  sizeKb: bigint | null;
}

/** atol(): leading spaces, a sign, digits up to the first other character; 0 when there are none. */
export function atol(text: string): bigint {
  return strtol(text).exact;
}

/** A TimeLineID read with atoi(), as pg does (an unsigned 32-bit value). */
export function atoiTimeline(text: string): TimeLineId {
  return strtoint(text).value >>> 0;
}

export class BackupResponseReader {
  private pending: BackendEvent | undefined;

  constructor(private readonly events: BackendEventSource) {}

  private async next(prefix: string): Promise<BackendEvent> {
    if (this.pending) {
      const p = this.pending;
      this.pending = undefined;
      return p;
    }
    let r: IteratorResult<BackendEvent>;
    try {
      r = await this.events.next();
    } catch (e) {
      if (e instanceof ServerError) throw e.wrap(prefix);
      throw e;
    }
    if (r.done) throw new ProtocolError(`${prefix}: unexpected end of response`);
    return r.value;
  }

  /** A complete result set: RowDescription, DataRows, CommandComplete. */
  async readResultSet(prefix: string): Promise<ResultRows> {
    const first = await this.next(prefix);
    if (first.kind !== 'rowDescription') throw new ProtocolError(`${prefix}: unexpected message "${first.kind}"`);
    const rows: (string | null)[][] = [];
    for (;;) {
      const ev = await this.next(prefix);
      if (ev.kind === 'dataRow') rows.push(ev.values.map((v) => (v === null ? null : v.toString('utf8'))));
      else if (ev.kind === 'commandComplete') return { nfields: first.fields.length, rows };
      else throw new ProtocolError(`${prefix}: unexpected message "${ev.kind}"`);
    }
  }

  async readStartPosition(): Promise<{ startLsnText: string; startLsn: Lsn; startTli: TimeLineId }> {
    const rs = await this.readResultSet('could not initiate base backup');
    if (rs.rows.length !== 1 || rs.nfields < 2) {
      throw new ProtocolError(
        `server returned unexpected response to BASE_BACKUP command; got ${rs.rows.length} rows and ${rs.nfields} fields, expected 1 rows and 2 fields`,
      );
    }
    const text = rs.rows[0]![0] ?? '';
    const lsn = parseLsn(text);
    if (lsn === undefined) throw new ProtocolError(`could not parse write-ahead log location "${text}"`);
    return { startLsnText: text, startLsn: lsn, startTli: atoiTimeline(rs.rows[0]![1] ?? '') };
  }

  async readTablespaces(): Promise<TablespaceInfo[]> {
    const rs = await this.readResultSet('could not get backup header');
    if (rs.rows.length < 1) throw new ProtocolError('no data returned from server');
    return rs.rows.map((r) => ({
      oid: r[0] ?? null,
      location: r[1] ?? null,
      // pg reads the size with atol(): "12abc" is 12, "abc" is 0.
      sizeKb: r[2] === null || r[2] === undefined ? null : atol(r[2]),
    }));
  }

  /**
   * The COPY stream: calls `onCopyData` for each CopyData payload and awaits it (that await is the
   * backpressure that reaches the socket).  Where the connection can, payloads come straight from the
   * socket reads (`transient`: a view of the reused read buffer, see CopyDataHandler); other messages
   * (CopyDone, an error, a notice) are read as events.
   */
  async readCopyStream(onCopyData: CopyDataHandler): Promise<void> {
    const start = await this.next('could not get COPY data stream');
    if (start.kind !== 'copyOutResponse') {
      throw new ProtocolError(`could not get COPY data stream: unexpected message "${start.kind}"`);
    }
    for (;;) {
      if (this.events.pumpCopyData !== undefined && this.pending === undefined) await this.events.pumpCopyData(onCopyData);
      const ev = await this.next('could not read COPY data');
      if (ev.kind === 'copyData') {
        const r = onCopyData(ev.data, false);
        if (r) await r;
      } else if (ev.kind === 'copyDone') {
        return;
      } else {
        throw new ProtocolError(`could not read COPY data: unexpected message "${ev.kind}"`);
      }
    }
  }

  async readEndPosition(): Promise<{ endLsnText: string; endLsn: Lsn; endTli: TimeLineId | undefined }> {
    const rs = await this.readResultSet('backup failed');
    if (rs.rows.length !== 1) throw new ProtocolError('no write-ahead log end position returned from server');
    const text = rs.rows[0]![0] ?? '';
    const lsn = parseLsn(text);
    if (lsn === undefined) throw new ProtocolError(`could not parse write-ahead log location "${text}"`);
    const tli = rs.nfields >= 2 && rs.rows[0]![1] ? atoiTimeline(rs.rows[0]![1]) : undefined;
    return { endLsnText: text, endLsn: lsn, endTli: tli };
  }

  /**
   * The final CommandComplete.  A page checksum failure (SQLSTATE XX001) arrives here instead: it is
   * returned as 'checksum-failure' so the caller can keep the data, as pg does.
   */
  async readCommandComplete(): Promise<'ok' | 'checksum-failure'> {
    let ev: BackendEvent;
    try {
      ev = await this.next('final receive failed');
    } catch (e) {
      if (e instanceof ServerError && e.sqlState === 'XX001') return 'checksum-failure';
      throw e;
    }
    if (ev.kind !== 'commandComplete') throw new ProtocolError(`final receive failed: unexpected message "${ev.kind}"`);
    // Drain to ReadyForQuery (the iterator ends there).
    for (;;) {
      const r = await this.events.next().catch((e: unknown) => {
        if (e instanceof ServerError) throw e.wrap('final receive failed');
        throw e;
      });
      if (r.done) return 'ok';
    }
  }
}
