/** Opening a catalog for a subcommand: the layout, its settings, and the lock for writers. */
import { CatalogError } from './catalog-error.js';
import { CatalogLayout } from './layout.js';
import { CatalogLock } from './lock.js';
import { readSettings, type CatalogSettings } from './settings.js';

export interface OpenCatalog {
  layout: CatalogLayout;
  settings: CatalogSettings;
}

export function openCatalog(dir: string): OpenCatalog {
  const layout = new CatalogLayout(dir);
  if (!layout.isCatalog()) {
    throw new CatalogError(`directory "${layout.root}" is not a backup catalog`, {
      code: 'PGBB_USAGE',
      hint: `Create one with "pg-basebackup-catalog init -B ${dir}".`,
    });
  }
  return { layout, settings: readSettings(layout.settingsFile) };
}

/** Run `fn` holding the catalog's lock. */
export async function withLock<T>(layout: CatalogLayout, command: string, fn: () => Promise<T> | T): Promise<T> {
  const lock = CatalogLock.acquire(layout.root, layout.lockFile, command);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
