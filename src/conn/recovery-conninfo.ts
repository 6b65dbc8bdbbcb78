/**
 * The connection string pg_basebackup -R writes as `primary_conninfo` (src/fe_utils/recovery_gen.c
 * GenerateRecoveryConfig over libpq's PQconninfo): every option of the connection with a non-empty
 * value, in libpq's table order, as `keyword=value` separated by spaces, values quoted like
 * appendConnStrVal; `replication`, `dbname` and `fallback_application_name` are left out, and
 * (pg_basebackup 17+) an explicitly given dbname is appended at the end.
 *
 * The keyword set is that of the libpq of the server's major version, so that the standby's own
 * walreceiver (linked with that libpq) accepts every keyword.  (A real pg_basebackup writes its own
 * libpq's set, which an older server's libpq may reject.)
 */
import { connInfoOptionsOf, isReportedBy, libpqMajorFor } from './conninfo-options.js';
import type { ConnInfoValues } from './conninfo-parse.js';

/** Keywords libpqwalreceiver sets itself. */
const OMITTED = new Set(['replication', 'dbname', 'fallback_application_name']);

/** Quote a value for a keyword/value connection string (appendConnStrVal). */
export function appendConnStrVal(value: string): string {
  if (/^[A-Za-z0-9_.]+$/.test(value)) return value;
  return `'${value.replace(/['\\]/g, (c) => `\\${c}`)}'`;
}

export interface RecoveryConnInfoOptions {
  /** Leave out `password` (pg_basebackup always writes it when one was given or prompted). */
  includePassword: boolean;
  /** Appended as `dbname=...` at the end when set (pg_basebackup 17+). */
  dbname?: string | undefined;
}

/** The conninfo text (before the configuration-file quoting of `primary_conninfo = '...'`). */
export function buildRecoveryConnInfo(values: ConnInfoValues, serverMajor: number, options: RecoveryConnInfoOptions): string {
  const major = libpqMajorFor(serverMajor);
  const parts: string[] = [];
  for (const def of connInfoOptionsOf(major)) {
    if (OMITTED.has(def.keyword) || !isReportedBy(def, major)) continue;
    if (def.keyword === 'password' && !options.includePassword) continue;
    const value = values.get(def.keyword);
    if (value === undefined || value === '') continue;
    parts.push(`${def.keyword}=${appendConnStrVal(value)}`);
  }
  if (options.dbname !== undefined && options.dbname !== '') parts.push(`dbname=${appendConnStrVal(options.dbname)}`);
  return parts.join(' ');
}
