/**
 * `show`: the catalog as a table like pg_rman's (newest first), one backup in detail (`show ID`), or
 * one JSON array for scripts (`--json`, also with an ID: an array of one).
 */
import type { BackupEntry } from './inventory.js';

export interface BackupJson {
  id: string;
  kind: 'FULL' | 'INCR';
  parent: string | null;
  status: string;
  status_detail: string | null;
  start_lsn: string | null;
  end_lsn: string | null;
  timeline: number | null;
  started_at: string;
  finished_at: string | null;
  bytes: number | null;
  wal_start: string | null;
  wal_end: string | null;
  system_identifier: string | null;
  server_version: string | null;
  parent_manifest_checksum: string | null;
  validated_at: string | null;
  directory: string;
}

export function toJson(e: BackupEntry): BackupJson {
  return {
    id: e.id,
    kind: e.kind,
    parent: e.parent,
    status: e.status,
    status_detail: e.detail,
    start_lsn: e.startLsn,
    end_lsn: e.endLsn,
    timeline: e.timeline,
    started_at: e.startedAt,
    finished_at: e.finishedAt,
    bytes: e.bytes,
    wal_start: e.walStart,
    wal_end: e.walEnd,
    system_identifier: e.systemIdentifier,
    server_version: e.serverVersion,
    parent_manifest_checksum: e.incrementalFrom?.manifestChecksum ?? null,
    validated_at: e.record.validation?.at ?? null,
    directory: e.dir,
  };
}

/** pg_size_pretty's steps, as pg_rman prints sizes ("23MB"). */
export function prettySize(bytes: number | null): string {
  if (bytes === null) return '----';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 10 * 1024 && i < units.length - 1) {
    v = Math.round(v / 1024);
    i++;
  }
  return `${v}${units[i]}`;
}

/** "2026-12-04 10:15:00" in UTC. */
export function shortTime(iso: string | null): string {
  if (iso === null) return '----';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

const COLUMNS = ['ID', 'Kind', 'Parent', 'Started (UTC)', 'Finished (UTC)', 'Start LSN', 'End LSN', 'TLI', 'Size', 'Status'];

export function formatTable(entries: readonly BackupEntry[]): string {
  const rows = [...entries].reverse().map((e) => [
    e.id, e.kind, e.parent ?? '-', shortTime(e.startedAt), shortTime(e.finishedAt), e.startLsn ?? '----', e.endLsn ?? '----',
    e.timeline === null ? '-' : String(e.timeline), prettySize(e.bytes), e.status,
  ]);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  const rule = '='.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  return `${rule}\n${line(COLUMNS)}\n${rule}\n${rows.map((r) => `${line(r)}\n`).join('')}`;
}

export function formatDetails(e: BackupEntry): string {
  const j = toJson(e);
  const pairs: [string, string][] = [
    ['ID', j.id],
    ['Kind', j.kind],
    ['Parent', j.parent ?? '-'],
    ['Status', j.status],
    ...(j.status_detail ? [['Status detail', j.status_detail] as [string, string]] : []),
    ['Started', j.started_at],
    ['Finished', j.finished_at ?? '-'],
    ['Start LSN', j.start_lsn ?? '-'],
    ['End LSN', j.end_lsn ?? '-'],
    ['Timeline', j.timeline === null ? '-' : String(j.timeline)],
    ['WAL', j.wal_start ? `${j.wal_start} to ${j.wal_end}` : '-'],
    ['Size', j.bytes === null ? '-' : `${prettySize(j.bytes)} (${j.bytes} bytes)`],
    ['System identifier', j.system_identifier ?? '-'],
    ['Server version', j.server_version ?? '-'],
    ['Parent manifest checksum', j.parent_manifest_checksum ?? '-'],
    ['Validated', j.validated_at ? `${j.validated_at} (${e.record.validation?.result})` : '-'],
    ['Directory', j.directory],
  ];
  const w = Math.max(...pairs.map(([k]) => k.length));
  let out = pairs.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${v}\n`).join('');
  const msgs = e.record.validation?.result === 'CORRUPT' ? e.record.validation.messages : [];
  if (msgs.length > 0) out += `Validation messages:\n${msgs.map((m) => `  ${m}\n`).join('')}`;
  return out;
}
