/**
 * The catalog's backups as the commands see them: each record joined with its completion marker and
 * its derived status (status.ts).  Read-only; needs no lock (records and markers are replaced
 * atomically, so a reader sees either version).
 */
import { hostname } from 'node:os';
import { readMarkerState, type MarkerState } from '../backup/marker-state.js';
import { compareBackupIds } from './backup-id.js';
import { CatalogError } from './catalog-error.js';
import type { CatalogLayout } from './layout.js';
import { processExists } from './lock.js';
import { readCatalogRecord, type BackupKind, type CatalogRecord } from './record.js';
import { chainStatuses, ownStatus, type BackupStatus, type DerivedStatus } from './status.js';

export interface BackupEntry {
  id: string;
  dir: string;
  record: CatalogRecord;
  marker: MarkerState;
  kind: BackupKind;
  parent: string | null;
  status: BackupStatus;
  detail: string | null;
  startLsn: string | null;
  endLsn: string | null;
  timeline: number | null;
  startedAt: string;
  finishedAt: string | null;
  bytes: number | null;
  walStart: string | null;
  walEnd: string | null;
  systemIdentifier: string | null;
  serverVersion: string | null;
  runId: string | null;
  /** The marker's `incremental_from` (written by the base backup code since it records -i's parent), when present. */
  incrementalFrom: { lsn: string; timeline: number; manifestChecksum: string } | null;
  /** The backup's tablespaces: where they were on the server, and where the backup holds them. */
  tablespaces: { oid: string; location: string; mappedLocation: string | null }[];
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

function incrementalFromOf(v: unknown): BackupEntry['incrementalFrom'] {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const lsn = str(o['lsn']);
  const timeline = num(o['timeline']);
  const manifestChecksum = str(o['manifest_checksum']);
  return lsn !== null && timeline !== null && manifestChecksum !== null ? { lsn, timeline, manifestChecksum } : null;
}

function recordProcessRunning(r: CatalogRecord): boolean {
  return r.host === hostname() && r.pid > 0 && processExists(r.pid);
}

function entryOf(layout: CatalogLayout, id: string, record: CatalogRecord): { entry: Omit<BackupEntry, 'status' | 'detail'>; own: DerivedStatus } {
  const dir = layout.backupDir(id);
  const marker = readMarkerState(dir);
  const m = marker.marker ?? {};
  const own = marker.state === 'foreign' ? {} : m;
  const complete = marker.state === 'complete';
  const server = (own['server'] ?? null) as Record<string, unknown> | null;
  const wal = (own['wal'] ?? null) as Record<string, unknown> | null;
  const error = (own['error'] ?? null) as Record<string, unknown> | null;
  const entry = {
    id,
    dir,
    record,
    marker,
    kind: record.kind,
    parent: record.parent,
    startLsn: complete ? str(own['start_lsn']) : null,
    endLsn: complete ? str(own['end_lsn']) : null,
    timeline: complete ? num(own['timeline']) : null,
    startedAt: str(own['started_at']) ?? record.created_at,
    finishedAt: str(own['finished_at']),
    bytes: complete ? num(own['bytes']) : null,
    walStart: complete && wal ? str(wal['start']) : null,
    walEnd: complete && wal ? str(wal['end']) : null,
    systemIdentifier: complete ? str(own['system_identifier']) : null,
    serverVersion: server ? str(server['version']) : null,
    runId: str(own['run_id']),
    incrementalFrom: complete ? incrementalFromOf(own['incremental_from']) : null,
    tablespaces: complete && Array.isArray(own['tablespaces'])
      ? (own['tablespaces'] as Record<string, unknown>[]).map((t) => ({ oid: String(t['oid']), location: String(t['location']), mappedLocation: str(t['mapped_location']) }))
      : [],
  };
  const status = ownStatus({
    deletingSince: record.deleting_since,
    markerState: marker.state,
    markerProcessRunning: marker.process_running,
    markerReason: marker.reason,
    markerError: error ? str(error['message']) ?? undefined : undefined,
    directoryExists: marker.directory_exists,
    recordProcessRunning: marker.state === 'missing' ? recordProcessRunning(record) : false,
    recordError: record.error,
    runId: entry.runId,
    validation: record.validation,
  });
  return { entry, own: status };
}

/** Every backup of the catalog, oldest first. */
export function loadInventory(layout: CatalogLayout): BackupEntry[] {
  const partial = layout.recordIds().flatMap((id) => {
    const path = layout.recordFile(id);
    const record = readCatalogRecord(path);
    if (record === undefined) return []; // deleted since the directory was listed (show takes no lock)
    if (record.id !== id) throw new CatalogError(`invalid catalog record "${path}": it is the record of backup ${record.id}`);
    return [entryOf(layout, id, record)];
  });
  const statuses = chainStatuses(partial.map((p) => ({ id: p.entry.id, parent: p.entry.parent, own: p.own })));
  return partial
    .map((p) => {
      const s = statuses.get(p.entry.id) as DerivedStatus;
      return { ...p.entry, status: s.status, detail: s.detail };
    })
    .sort((a, b) => compareBackupIds(a.id, b.id));
}

export function findEntry(entries: readonly BackupEntry[], id: string, root: string): BackupEntry {
  const e = entries.find((x) => x.id === id);
  if (e === undefined) throw new CatalogError(`backup "${id}" not found in catalog "${root}"`, { code: 'PGBB_USAGE' });
  return e;
}

/** The backups that depend on `id` (children, grandchildren ...), oldest first. */
export function dependentsOf(entries: readonly BackupEntry[], id: string): BackupEntry[] {
  const out: BackupEntry[] = [];
  const wanted = new Set([id]);
  for (const e of entries) {
    if (e.parent !== null && wanted.has(e.parent) && !wanted.has(e.id)) {
      wanted.add(e.id);
      out.push(e);
    }
  }
  return out;
}

/** The chain from its full backup to `id`, oldest first; throws when a link is missing. */
export function chainTo(entries: readonly BackupEntry[], id: string, root: string): BackupEntry[] {
  const chain: BackupEntry[] = [];
  let cur: BackupEntry | undefined = findEntry(entries, id, root);
  const seen = new Set<string>();
  while (cur !== undefined) {
    if (seen.has(cur.id)) throw new CatalogError(`backup ${id}: parent links form a cycle at ${cur.id}`);
    seen.add(cur.id);
    chain.unshift(cur);
    if (cur.parent === null) return chain;
    const parentId: string = cur.parent;
    cur = entries.find((x) => x.id === parentId);
    if (cur === undefined) throw new CatalogError(`backup ${id}: parent backup ${parentId} is missing`);
  }
  return chain;
}
