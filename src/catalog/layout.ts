/**
 * Where things are in a catalog directory (beyond pg; the layout is ours):
 *
 *   <catalog>/pg-basebackup-catalog.json          settings: connection and backup options, retention policy
 *   <catalog>/lock                                 the writer's lock (src/catalog/lock.ts)
 *   <catalog>/backups/<ID>/                        a plain base backup, exactly as pg_basebackup writes it
 *   <catalog>/backups/<ID>.pg-basebackup-status.json   its completion marker (the backup's facts)
 *   <catalog>/backups/<ID>.catalog.json            its catalog record (kind, parent, validation)
 *   <catalog>/backups/<ID>.tblspc/<oid>/           its tablespaces (plain format maps each with -T)
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { statusFileFor } from '../backup/completion-marker.js';
import { compareBackupIds } from './backup-id.js';

export const SETTINGS_NAME = 'pg-basebackup-catalog.json';
export const LOCK_NAME = 'lock';
export const BACKUPS_DIR = 'backups';
export const RECORD_SUFFIX = '.catalog.json';

export class CatalogLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get settingsFile(): string {
    return join(this.root, SETTINGS_NAME);
  }

  get lockFile(): string {
    return join(this.root, LOCK_NAME);
  }

  get backupsDir(): string {
    return join(this.root, BACKUPS_DIR);
  }

  /** The backup's data directory. */
  backupDir(id: string): string {
    return join(this.backupsDir, id);
  }

  /** The backup's completion marker (written by the base backup code beside its directory). */
  markerFile(id: string): string {
    return statusFileFor(this.backupDir(id));
  }

  /** Where the backup's tablespaces are written (one directory per tablespace OID). */
  tablespacesDir(id: string): string {
    return join(this.backupsDir, `${id}.tblspc`);
  }

  recordFile(id: string): string {
    return join(this.backupsDir, `${id}${RECORD_SUFFIX}`);
  }

  isCatalog(): boolean {
    return existsSync(this.settingsFile);
  }

  /** The IDs that have a catalog record, in ID (time) order. */
  recordIds(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.backupsDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names
      .filter((n) => n.endsWith(RECORD_SUFFIX) && !n.startsWith('.'))
      .map((n) => n.slice(0, -RECORD_SUFFIX.length))
      .sort(compareBackupIds);
  }

  /** Every name in the backups directory (for ID collisions). */
  usedNames(): Set<string> {
    try {
      return new Set(readdirSync(this.backupsDir));
    } catch {
      return new Set();
    }
  }
}
