/**
 * The catalog's settings file (`<catalog>/pg-basebackup-catalog.json`), written by `init`: the
 * connection options every `backup` uses unless given again, backup options, and the retention
 * policy.  Never a password (use ~/.pgpass, PGPASSWORD or a service file).
 */
import { CatalogError } from './catalog-error.js';
import { readJsonObject, writeJsonFile } from './json-file.js';

export interface ConnectionSettings {
  /** -d */
  dbname: string | null;
  /** -h, -p, -U */
  host: string | null;
  port: string | null;
  user: string | null;
}

export interface RetentionPolicy {
  /** Full backups to keep, with their incremental backups; null: no count rule. */
  keep_full: number | null;
  /** Days: keep what is needed to restore to any point of the last N days; null: no age rule. */
  keep_days: number | null;
  /** Apply the policy (delete --expired) after every successful backup. */
  after_backup: boolean;
}

export interface CatalogSettings {
  format_version: 1;
  created_at: string;
  connection: ConnectionSettings;
  /** -c fast|spread for every backup (default fast). */
  checkpoint: 'fast' | 'spread';
  /** -X fetch|stream (default stream): every backup holds the WAL it needs. */
  wal_method: 'fetch' | 'stream';
  retention: RetentionPolicy;
}

export function defaultSettings(now: Date): CatalogSettings {
  return {
    format_version: 1,
    created_at: now.toISOString(),
    connection: { dbname: null, host: null, port: null, user: null },
    checkpoint: 'fast',
    wal_method: 'stream',
    retention: { keep_full: null, keep_days: null, after_backup: false },
  };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);

export function readSettings(path: string): CatalogSettings {
  const v = readJsonObject(path);
  if (v === undefined) throw new CatalogError(`could not open file "${path}": No such file or directory`);
  if (v['format_version'] !== 1) throw new CatalogError(`invalid settings file "${path}": unknown format_version`);
  const c = (v['connection'] ?? {}) as Record<string, unknown>;
  const r = (v['retention'] ?? {}) as Record<string, unknown>;
  return {
    format_version: 1,
    created_at: str(v['created_at']) ?? '',
    connection: { dbname: str(c['dbname']), host: str(c['host']), port: str(c['port']), user: str(c['user']) },
    checkpoint: v['checkpoint'] === 'spread' ? 'spread' : 'fast',
    wal_method: v['wal_method'] === 'fetch' ? 'fetch' : 'stream',
    retention: { keep_full: count(r['keep_full']), keep_days: count(r['keep_days']), after_backup: r['after_backup'] === true },
  };
}

export function writeSettings(path: string, s: CatalogSettings): void {
  writeJsonFile(path, s, 0o600);
}
