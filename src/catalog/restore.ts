/**
 * `restore ID -D TARGET [-T OLD=NEW]... [-R]`: the chain from its full backup to ID, combined into
 * TARGET by our combiner (a full backup alone is copied, copy-backup.ts), then verified by our
 * verifier; with -R, standby.signal and primary_conninfo (from the catalog's connection settings,
 * without a password) as pg_basebackup -R writes them.  Every backup of the chain must be DONE or OK.
 * Runs under the catalog lock, so that no backup of the chain is deleted meanwhile.
 */
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildRecoveryConfig } from '../backup/recovery-config.js';
import { isConnInfoString, parseConnInfo } from '../conn/conninfo-parse.js';
import { buildRecoveryConnInfo } from '../conn/recovery-conninfo.js';
import { writeNewFile } from '../fs/create-file.js';
import { removeTree } from '../fs/target-dir.js';
import { connectionOf } from './backup.js';
import { CatalogError } from './catalog-error.js';
import type { OpenCatalog } from './catalog.js';
import { copyFullBackup } from './copy-backup.js';
import { chainTo, loadInventory, type BackupEntry } from './inventory.js';
import type { RestoreOptions } from './options.js';
import { connectionFactory } from './probe.js';
import type { CatalogLog } from './report.js';
import { isUsable } from './status.js';
import { combineBackups, verifyBackupDir, type TablespaceMappingArg } from './tools.js';

export interface RestoreContext {
  env: NodeJS.ProcessEnv;
  log: CatalogLog;
  signal?: AbortSignal;
}

/** Refuse a non-empty target; returns whether it exists. */
function checkTarget(dir: string): boolean {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CatalogError(`could not access directory "${dir}": ${(e as NodeJS.ErrnoException).code}`);
  }
  if (names.length > 0) throw new CatalogError(`directory "${dir}" exists but is not empty`, { code: 'PGBB_USAGE' });
  return true;
}

/** The -R lines for a restored backup of a server of `serverMajor`. */
export function standbySettings(cat: OpenCatalog, env: NodeJS.ProcessEnv, serverMajor: number): string {
  const factory = connectionFactory({ ...connectionOf(cat, { passwordMode: 'never' }) }, env);
  const { resolved } = factory.resolve();
  const dbname = cat.settings.connection.dbname;
  // pg_basebackup 17+ writes the dbname given in -d at the end.
  const explicitDb = dbname === null ? undefined : isConnInfoString(dbname) ? parseConnInfo(dbname).get('dbname') : dbname;
  const conninfo = buildRecoveryConnInfo(resolved.values, serverMajor, { includePassword: false, dbname: explicitDb });
  return buildRecoveryConfig(conninfo, undefined);
}

/**
 * -T as the user gives it (the tablespace's location on the server, or where the backup holds it)
 * turned into what the combiner and the copy match: where the backup to restore holds it.  Every
 * tablespace needs one.
 */
export function tablespaceMappings(last: BackupEntry, given: readonly TablespaceMappingArg[]): TablespaceMappingArg[] {
  const out: TablespaceMappingArg[] = [];
  for (const t of last.tablespaces) {
    const held = t.mappedLocation ?? t.location;
    const m = [...given].reverse().find((g) => resolve(g.oldDir) === t.location || resolve(g.oldDir) === held);
    if (m === undefined) {
      throw new CatalogError(`tablespace ${t.oid} (at "${t.location}" on the server) has no tablespace mapping`, {
        code: 'PGBB_USAGE',
        hint: `Give its new location with -T "${t.location}=NEWDIR".`,
      });
    }
    out.push({ oldDir: held, newDir: resolve(m.newDir) });
  }
  for (const g of given) {
    if (!last.tablespaces.some((t) => resolve(g.oldDir) === t.location || resolve(g.oldDir) === (t.mappedLocation ?? t.location))) {
      throw new CatalogError(`backup ${last.id} has no tablespace at "${g.oldDir}"`, { code: 'PGBB_USAGE' });
    }
  }
  return out;
}

/** `restore latest`: the newest backup that can be restored (DONE or OK, and so is its whole chain). */
function latestUsable(entries: readonly BackupEntry[]): string {
  const e = [...entries].reverse().find((x) => isUsable(x.status));
  if (e === undefined) throw new CatalogError('no backup in the catalog can be restored', { code: 'PGBB_USAGE' });
  return e.id;
}

export async function runRestore(cat: OpenCatalog, o: RestoreOptions, ctx: RestoreContext): Promise<void> {
  const entries = loadInventory(cat.layout);
  const id = o.id === 'latest' ? latestUsable(entries) : o.id;
  const chain = chainTo(entries, id, cat.layout.root);
  for (const e of [...chain].reverse()) {
    if (!isUsable(e.status)) {
      throw new CatalogError(
        e.id === id ? `backup ${e.id} has status ${e.status}` : `backup ${e.id}, on which backup ${id} depends, has status ${e.status}`,
        { code: 'PGBB_USAGE', ...(e.detail ? { detail: e.detail } : {}) },
      );
    }
  }
  const target = resolve(o.target);
  const existed = checkTarget(target);
  const last = chain[chain.length - 1];
  if (last === undefined) throw new CatalogError(`backup ${id} not found`);
  const mappings = tablespaceMappings(last, o.tablespaceMappings);
  if (chain.length === 1) {
    ctx.log.info(`restoring full backup ${last.id} into "${target}"`);
    const tsExisted = mappings.map((m) => existsSync(m.newDir));
    try {
      copyFullBackup(last.dir, target, mappings);
    } catch (e) {
      // What the copy made goes, as pg_combinebackup cleans up its output.
      removeTree(target, !existed);
      mappings.forEach((m, i) => removeTree(m.newDir, !tsExisted[i]));
      throw e;
    }
  } else {
    ctx.log.info(`combining ${chain.map((e) => e.id).join(', ')} into "${target}"`);
    const r = await combineBackups(chain.map((e) => e.dir), target, mappings);
    if (!r.ok) throw new CatalogError(`could not combine the backups of the chain of ${id}`, { detail: r.messages });
  }
  const v = await verifyBackupDir(target);
  if (!v.ok) {
    throw new CatalogError(`restored directory "${target}" failed verification`, {
      detail: v.messages,
      hint: 'The directory is left for inspection.  Run "validate" on the backups of the chain.',
    });
  }
  ctx.log.info(`restored directory "${target}" verified`);
  if (o.writeRecoveryConf) {
    const major = Number.parseInt(last.serverVersion ?? '', 10);
    if (!Number.isInteger(major)) throw new CatalogError(`backup ${last.id} does not say its server version`);
    appendFileSync(join(target, 'postgresql.auto.conf'), standbySettings(cat, ctx.env, major), { mode: 0o600 });
    writeNewFile(join(target, 'standby.signal'), '', 0o600);
  }
  ctx.log.info(`backup ${id} restored into "${target}"`);
}
