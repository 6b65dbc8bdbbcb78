/**
 * A backup's catalog record, `<catalog>/backups/<ID>.catalog.json`: the facts the completion marker
 * (written by the base backup code) cannot carry.  One source of truth per fact:
 *
 * - the marker: what the backup is (times, LSNs, timeline, WAL range, system identifier, server
 *   version, bytes, `incremental_from`: the parent's start and Manifest-Checksum) and whether it
 *   completed;
 * - this record: its kind and parent ID (decided before the backup starts: the link is explicit,
 *   never inferred from times), the catalog process that took it,
 *   the last validation, a deletion in progress, and the error of a run that failed before its
 *   marker was written.
 *
 * Written atomically (json-file.ts) before the backup starts, after each validation, and before a
 * deletion starts.
 */
import { CatalogError } from './catalog-error.js';
import { readJsonObject, writeJsonFile } from './json-file.js';

export type BackupKind = 'FULL' | 'INCR';

export interface ValidationRecord {
  result: 'OK' | 'CORRUPT';
  at: string;
  /** The marker's run_id when it was validated: a backup replaced since is not validated. */
  run_id: string | null;
  messages: string[];
}

export interface CatalogRecord {
  format_version: 1;
  id: string;
  kind: BackupKind;
  /** The parent backup's ID (INCR), null for FULL. */
  parent: string | null;
  created_at: string;
  /** The catalog process that takes the backup (a record without a marker: RUNNING while it lives). */
  pid: number;
  host: string;
  validation: ValidationRecord | null;
  /** Set when a deletion started: the backup is no longer usable. */
  deleting_since: string | null;
  /** The error of a backup that failed before its completion marker was written (e.g. could not connect). */
  error: string | null;
}

const KINDS = new Set(['FULL', 'INCR']);

function fail(path: string, what: string): never {
  throw new CatalogError(`invalid catalog record "${path}": ${what}`);
}

/** Check a parsed record; throws CatalogError naming the file. */
export function toCatalogRecord(path: string, v: Record<string, unknown>): CatalogRecord {
  if (v['format_version'] !== 1) fail(path, 'unknown format_version');
  if (typeof v['id'] !== 'string') fail(path, 'no id');
  if (typeof v['kind'] !== 'string' || !KINDS.has(v['kind'])) fail(path, 'bad kind');
  const parent = v['parent'];
  if (parent !== null && typeof parent !== 'string') fail(path, 'bad parent');
  if (v['kind'] === 'INCR' && parent === null) fail(path, 'an incremental backup without a parent');
  if (typeof v['created_at'] !== 'string') fail(path, 'no created_at');
  const validation = v['validation'] ?? null;
  if (validation !== null) {
    const r = validation as Record<string, unknown>;
    if (typeof r !== 'object' || (r['result'] !== 'OK' && r['result'] !== 'CORRUPT')) fail(path, 'bad validation');
  }
  return {
    format_version: 1,
    id: v['id'],
    kind: v['kind'] as BackupKind,
    parent,
    created_at: v['created_at'],
    pid: typeof v['pid'] === 'number' ? v['pid'] : 0,
    host: typeof v['host'] === 'string' ? v['host'] : '',
    validation: validation as ValidationRecord | null,
    deleting_since: typeof v['deleting_since'] === 'string' ? v['deleting_since'] : null,
    error: typeof v['error'] === 'string' ? v['error'] : null,
  };
}

export function readCatalogRecord(path: string): CatalogRecord | undefined {
  const v = readJsonObject(path);
  return v === undefined ? undefined : toCatalogRecord(path, v);
}

export function writeCatalogRecord(path: string, record: CatalogRecord): void {
  writeJsonFile(path, record);
}
