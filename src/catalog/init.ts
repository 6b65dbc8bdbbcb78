/** `init -B DIR`: a new catalog (an empty or new directory), its settings file and backups directory. */
import { mkdirSync, readdirSync } from 'node:fs';
import { strerror } from '../errors.js';
import { CatalogError } from './catalog-error.js';
import { CatalogLayout } from './layout.js';
import type { InitOptions } from './options.js';
import type { CatalogLog } from './report.js';
import { defaultSettings, writeSettings } from './settings.js';

export function runInit(o: InitOptions, log: CatalogLog, now = new Date()): void {
  const layout = new CatalogLayout(o.catalog);
  if (layout.isCatalog()) throw new CatalogError(`catalog "${layout.root}" already exists`, { code: 'PGBB_USAGE' });
  let names: string[] = [];
  try {
    names = readdirSync(layout.root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CatalogError(`could not access directory "${layout.root}": ${strerror(e)}`);
  }
  if (names.length > 0) {
    throw new CatalogError(`directory "${layout.root}" exists but is not empty`, {
      code: 'PGBB_USAGE',
      hint: 'Give an empty or new directory.',
    });
  }
  try {
    mkdirSync(layout.root, { recursive: true, mode: 0o700 });
    mkdirSync(layout.backupsDir, { mode: 0o700 });
  } catch (e) {
    throw new CatalogError(`could not create directory "${layout.backupsDir}": ${strerror(e)}`);
  }
  const s = defaultSettings(now);
  s.connection = { dbname: o.dbname ?? null, host: o.host ?? null, port: o.port ?? null, user: o.user ?? null };
  if (o.checkpoint) s.checkpoint = o.checkpoint;
  if (o.walMethod) s.wal_method = o.walMethod;
  s.retention = { keep_full: o.keepFull ?? null, keep_days: o.keepDays ?? null, after_backup: o.expireAfterBackup };
  if (o.expireAfterBackup && o.keepFull === undefined && o.keepDays === undefined) {
    throw new CatalogError('--expire-after-backup needs --keep-full or --keep-days', { code: 'PGBB_USAGE' });
  }
  // The settings file last: its presence makes the directory a catalog.
  writeSettings(layout.settingsFile, s);
  log.info(`catalog "${layout.root}" created`);
}
