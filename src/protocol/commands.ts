/**
 * Replication commands as pg_basebackup / pg_receivewal send them (src/bin/pg_basebackup/streamutil.c,
 * receivelog.c), with their result-shape checks and error texts:
 *   could not send replication command "%s": <server or connection error>
 *   could not identify system: got %d rows and %d fields, expected %d rows and %d or more fields
 */
import { ConnectionError, PgBasebackupError, ProtocolError, ServerError } from '../errors.js';
import { isValidWalSegSize, parseLsn, type Lsn, type TimeLineId } from '../lsn.js';
import type { PgConnection } from './connection.js';
import type { FieldDescription } from './types.js';

/** The last result set of a command, with raw column values. */
interface RawResult {
  fields: FieldDescription[];
  rows: (Buffer | null)[][];
}

/** Run one command like PQexec; failures become `could not send replication command "<label>": ...`. */
async function exec(conn: PgConnection, sql: string, label = sql): Promise<RawResult> {
  let last: RawResult = { fields: [], rows: [] };
  try {
    for await (const ev of conn.query(sql)) {
      if (ev.kind === 'rowDescription') last = { fields: ev.fields, rows: [] };
      else if (ev.kind === 'dataRow') last.rows.push(ev.values);
    }
  } catch (e) {
    throw prefixed(e, `could not send replication command "${label}"`);
  }
  return last;
}

/** The same error with pg_basebackup's context prefix. */
function prefixed(e: unknown, prefix: string): PgBasebackupError {
  if (e instanceof ServerError) return e.wrap(prefix);
  if (e instanceof ConnectionError) return new ConnectionError(`${prefix}: ${e.message}`, { cause: e });
  if (e instanceof ProtocolError) return new ProtocolError(`${prefix}: ${e.message}`, { cause: e });
  if (e instanceof PgBasebackupError) return new PgBasebackupError(e.code, `${prefix}: ${e.message}`, { cause: e });
  return new PgBasebackupError('PGBB_INTERNAL', `${prefix}: ${String(e)}`, { cause: e });
}

function text(r: RawResult, row: number, col: number): string {
  return r.rows[row]?.[col]?.toString('utf8') ?? '';
}

function isNull(r: RawResult, row: number, col: number): boolean {
  return (r.rows[row]?.[col] ?? null) === null;
}

function shape(what: string, r: RawResult, rows: number, fields: number, orMore: boolean): ProtocolError {
  return new ProtocolError(
    `${what}: got ${r.rows.length} rows and ${r.fields.length} fields, expected ${rows} rows and ${fields}${orMore ? ' or more' : ''} fields`,
  );
}

/** Identifier quoting: "name", embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export interface IdentifySystemResult {
  systemId: string;
  timeline: TimeLineId;
  xlogPos: Lsn;
  /** The database of a logical replication connection; null for physical replication. */
  dbName: string | null;
}

/** RunIdentifySystem(). */
export async function identifySystem(conn: PgConnection): Promise<IdentifySystemResult> {
  const r = await exec(conn, 'IDENTIFY_SYSTEM');
  if (r.rows.length !== 1 || r.fields.length < 3) throw shape('could not identify system', r, 1, 3, true);
  const pos = text(r, 0, 2);
  const xlogPos = parseLsn(pos);
  if (xlogPos === undefined) throw new ProtocolError(`could not parse write-ahead log location "${pos}"`);
  if (r.fields.length < 4) throw shape('could not identify system', r, 1, 4, true);
  return {
    systemId: text(r, 0, 0),
    timeline: Number.parseInt(text(r, 0, 1), 10) || 0,
    xlogPos,
    dbName: isNull(r, 0, 3) ? null : text(r, 0, 3),
  };
}

/** SHOW <name> on a replication (or normal) connection; `what` names it in shape errors. */
export async function showSetting(conn: PgConnection, name: string, what = `could not fetch setting "${name}"`): Promise<string> {
  const r = await exec(conn, `SHOW ${name}`);
  if (r.rows.length !== 1 || r.fields.length < 1) throw shape(what, r, 1, 1, true);
  return text(r, 0, 0);
}

/** RetrieveWalSegSize(): SHOW wal_segment_size, e.g. "16MB" → 16777216, validated. */
export async function retrieveWalSegSize(conn: PgConnection): Promise<number> {
  if (conn.serverVersionNum < 100000) return 16 * 1024 * 1024;
  const value = await showSetting(conn, 'wal_segment_size', 'could not fetch WAL segment size');
  // sscanf("%d%s"): an integer then a non-empty unit.
  const m = /^\s*([+-]?\d+)(?!\d)\s*(\S+)/.exec(value);
  if (!m) throw new ProtocolError('WAL segment size could not be parsed');
  const unit = m[2] as string;
  const multiplier = unit === 'MB' ? 1024 * 1024 : unit === 'GB' ? 1024 * 1024 * 1024 : 1;
  const size = Number(m[1]) * multiplier;
  if (!isValidWalSegSize(size)) {
    throw new ProtocolError(
      `WAL segment size must be a power of two between 1 MB and 1 GB, but the remote server reported a value of ${size} byte${size === 1 ? '' : 's'}`,
    );
  }
  return size;
}

/** RetrieveDataDirCreatePerm(): SHOW data_directory_mode (octal, e.g. "0750") → 0o750. */
export async function retrieveDataDirCreatePerm(conn: PgConnection): Promise<number> {
  if (conn.serverVersionNum < 110000) return 0o700;
  const value = await showSetting(conn, 'data_directory_mode', 'could not fetch group access flag');
  const m = /^\s*([+-]?)([0-7]+)/.exec(value);
  if (!m) throw new ProtocolError(`group access flag could not be parsed: ${value}`);
  const mode = Number.parseInt(m[2] as string, 8);
  return m[1] === '-' ? -mode : mode;
}

/** TIMELINE_HISTORY <tli>: the history file's name and raw contents. */
export async function timelineHistory(conn: PgConnection, tli: TimeLineId): Promise<{ fileName: string; content: Buffer }> {
  const r = await exec(conn, `TIMELINE_HISTORY ${tli}`, 'TIMELINE_HISTORY');
  if (r.fields.length !== 2 || r.rows.length !== 1) {
    throw shape('unexpected response to TIMELINE_HISTORY command', r, 1, 2, false);
  }
  return { fileName: text(r, 0, 0), content: Buffer.from(r.rows[0]?.[1] ?? Buffer.alloc(0)) };
}

export interface CreateSlotOptions {
  name: string;
  temporary: boolean;
  reserveWal: boolean;
}

/** The CREATE_REPLICATION_SLOT command for a physical slot, in the server's syntax (new syntax from 15). */
export function createReplicationSlotCommand(serverVersionNum: number, o: CreateSlotOptions): string {
  let sql = `CREATE_REPLICATION_SLOT ${quoteIdent(o.name)}${o.temporary ? ' TEMPORARY' : ''} PHYSICAL`;
  if (serverVersionNum >= 150000) {
    if (o.reserveWal) sql += ' ( RESERVE_WAL)';
  } else if (o.reserveWal) {
    sql += '  RESERVE_WAL'; // AppendPlainCommandOption's separator plus its own leading space
  }
  return sql;
}

/** CreateReplicationSlot() for a physical slot; returns slot_name and consistent_point. */
export async function createReplicationSlot(conn: PgConnection, o: CreateSlotOptions): Promise<{ slotName: string; consistentPoint: string | null }> {
  const r = await exec(conn, createReplicationSlotCommand(conn.serverVersionNum, o));
  if (r.rows.length !== 1 || r.fields.length !== 4) throw shape(`could not create replication slot "${o.name}"`, r, 1, 4, false);
  return { slotName: text(r, 0, 0), consistentPoint: isNull(r, 0, 1) ? null : text(r, 0, 1) };
}

/** DropReplicationSlot(). */
export async function dropReplicationSlot(conn: PgConnection, name: string): Promise<void> {
  const r = await exec(conn, `DROP_REPLICATION_SLOT ${quoteIdent(name)}`);
  if (r.rows.length !== 0 || r.fields.length !== 0) throw shape(`could not drop replication slot "${name}"`, r, 0, 0, false);
}

export interface ReplicationSlotInfo {
  slotType: string;
  /** restart_lsn, undefined when NULL. */
  restartLsn: Lsn | undefined;
  /** restart_tli, undefined when NULL. */
  restartTli: TimeLineId | undefined;
}

/** GetSlotInformation() (15+): READ_REPLICATION_SLOT of a physical slot. */
export async function readReplicationSlot(conn: PgConnection, name: string): Promise<ReplicationSlotInfo> {
  const r = await exec(conn, `READ_REPLICATION_SLOT ${name}`, 'READ_REPLICATION_SLOT');
  if (r.rows.length !== 1 || r.fields.length !== 3) throw shape(`could not read replication slot "${name}"`, r, 1, 3, false);
  if (isNull(r, 0, 0)) throw new ProtocolError(`replication slot "${name}" does not exist`);
  const slotType = text(r, 0, 0);
  if (slotType !== 'physical') throw new ProtocolError(`expected a physical replication slot, got type "${slotType}" instead`);
  let restartLsn: Lsn | undefined;
  if (!isNull(r, 0, 1)) {
    restartLsn = parseLsn(text(r, 0, 1));
    if (restartLsn === undefined) throw new ProtocolError(`could not parse restart_lsn "${text(r, 0, 1)}" for replication slot "${name}"`);
  }
  // atoi(), as pg reads it: garbage is 0, never NaN.
  const restartTli = isNull(r, 0, 2) ? undefined : Number.parseInt(text(r, 0, 2), 10) || 0;
  return { slotType, restartLsn, restartTli };
}
