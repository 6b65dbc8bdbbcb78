/**
 * Deleting backups, crash-safe: dependents go before what they depend on, and each backup is first
 * marked (its record's `deleting_since`, written atomically) so that a deletion cut short leaves an
 * ERROR backup, never a partial chain that looks usable; then its directory, its marker and its
 * record are removed and the directory of backups synced.  `delete ID [--cascade]` and
 * `delete --expired` (the retention policy, retention.ts) run under the catalog lock.
 */
import { openSync, closeSync, fsyncSync, rmSync, constants } from 'node:fs';
import { CatalogError } from './catalog-error.js';
import { dependentsOf, findEntry, type BackupEntry } from './inventory.js';
import type { CatalogLayout } from './layout.js';
import { writeCatalogRecord } from './record.js';
import { selectExpired, type RetentionRule } from './retention.js';
import type { CatalogLog } from './report.js';

function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function describe(e: BackupEntry): string {
  return `${e.id} (${e.kind}${e.parent ? ` of ${e.parent}` : ''}, ${e.status})`;
}

/** Delete `victims`, given in a safe order (dependents first).  With `dryRun`, only say what would go. */
export function deleteEntries(layout: CatalogLayout, victims: readonly BackupEntry[], log: CatalogLog, dryRun: boolean): void {
  for (const e of victims) {
    if (dryRun) {
      log.info(`would delete backup ${describe(e)}`);
      continue;
    }
    writeCatalogRecord(layout.recordFile(e.id), { ...e.record, deleting_since: e.record.deleting_since ?? new Date().toISOString() });
    rmSync(e.dir, { recursive: true, force: true });
    rmSync(layout.tablespacesDir(e.id), { recursive: true, force: true });
    rmSync(layout.markerFile(e.id), { force: true });
    rmSync(`${layout.markerFile(e.id)}.tmp`, { force: true });
    rmSync(layout.recordFile(e.id), { force: true });
    syncDir(layout.backupsDir);
    log.info(`deleted backup ${describe(e)}`);
  }
}

/** `delete ID`: the backup, and with `cascade` everything that depends on it (refused otherwise). */
export function victimsOfDelete(entries: readonly BackupEntry[], id: string, cascade: boolean, root: string): BackupEntry[] {
  const e = findEntry(entries, id, root);
  const deps = dependentsOf(entries, id);
  if (deps.length > 0 && !cascade) {
    throw new CatalogError(`backup ${id} is the parent of ${deps.length === 1 ? 'backup' : 'backups'} ${deps.map((d) => d.id).join(', ')}`, {
      code: 'PGBB_USAGE',
      hint: 'Use --cascade to delete them too.',
    });
  }
  const running = [e, ...deps].find((x) => x.status === 'RUNNING');
  if (running) throw new CatalogError(`backup ${running.id} is running`, { code: 'PGBB_USAGE' });
  return [...deps.reverse(), e];
}

/** `delete --expired`: what the retention policy lets go, dependents first. */
export function victimsOfRetention(entries: readonly BackupEntry[], rule: RetentionRule, now: number, log: CatalogLog): BackupEntry[] {
  const result = selectExpired(
    entries.map((e) => ({
      id: e.id,
      kind: e.kind,
      parent: e.parent,
      status: e.status,
      time: Date.parse(e.finishedAt ?? e.startedAt),
    })),
    rule,
    now,
  );
  if (result.keptFulls.length > 0) log.info(`full backups kept by the retention policy: ${result.keptFulls.join(', ')}`);
  const byId = new Map(entries.map((e) => [e.id, e]));
  // Deletions cut short are finished whatever the policy says (nothing depends on them: dependents go first).
  const unfinished = entries.filter((e) => e.record.deleting_since !== null && !result.expired.includes(e.id) && dependentsOf(entries, e.id).length === 0);
  return [...unfinished, ...result.expired.map((id) => byId.get(id) as BackupEntry)];
}
