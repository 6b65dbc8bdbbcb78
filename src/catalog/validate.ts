/**
 * `validate [ID | --all]`: each complete backup (the chain up to ID, every backup, or by default those
 * not validated yet) is checked by our verifier (pg_verifybackup: files
 * against the manifest, WAL) and its link to its parent (chain-check.ts); the result, OK or CORRUPT
 * with the messages, is written to its record.  ORPHAN follows from the parents' statuses (status.ts).
 * Parents are validated before their children.  Runs under the catalog lock.
 */
import { CatalogError } from './catalog-error.js';
import type { OpenCatalog } from './catalog.js';
import { checkChainLink } from './chain-check.js';
import { findEntry, loadInventory, type BackupEntry } from './inventory.js';
import type { ValidateOptions } from './options.js';
import { writeCatalogRecord } from './record.js';
import type { CatalogLog } from './report.js';
import { verifyBackupDir } from './tools.js';

export interface ValidateContext {
  log: CatalogLog;
  signal?: AbortSignal;
}

async function validateOne(cat: OpenCatalog, e: BackupEntry, parent: BackupEntry | undefined, ctx: ValidateContext): Promise<void> {
  const messages: string[] = [];
  const verified = await verifyBackupDir(e.dir);
  if (!verified.ok) messages.push(...(verified.messages.length > 0 ? verified.messages : ['verification failed']));
  messages.push(...checkChainLink(e, parent));
  writeCatalogRecord(cat.layout.recordFile(e.id), {
    ...e.record,
    validation: { result: messages.length === 0 ? 'OK' : 'CORRUPT', at: new Date().toISOString(), run_id: e.runId, messages },
  });
}

/** `e` and the parents of it that are present, oldest first. */
function presentChain(byId: ReadonlyMap<string, BackupEntry>, e: BackupEntry): BackupEntry[] {
  const out = [e];
  for (let p = e.parent === null ? undefined : byId.get(e.parent); p !== undefined && !out.includes(p); p = p.parent === null ? undefined : byId.get(p.parent)) {
    out.unshift(p);
  }
  return out;
}

/** Without an ID or --all: the complete backups not validated yet (or replaced since). */
function notValidated(entries: readonly BackupEntry[]): BackupEntry[] {
  return entries.filter(
    (e) => e.marker.state === 'complete' && e.record.deleting_since === null && (e.record.validation === null || e.record.validation.run_id !== e.runId),
  );
}

/** Returns the number of backups that did not end OK. */
export async function runValidate(cat: OpenCatalog, o: ValidateOptions, ctx: ValidateContext): Promise<number> {
  const root = cat.layout.root;
  const entries = loadInventory(cat.layout);
  // One backup: its chain is validated with it (a child is only as good as its parents).
  const byId = new Map(entries.map((e) => [e.id, e]));
  const targets = o.all ? entries : o.id !== undefined ? presentChain(byId, findEntry(entries, o.id, root)) : notValidated(entries);
  if (targets.length === 0) ctx.log.info('no backup to validate');
  let skipped = 0;
  for (const e of targets) {
    if (e.marker.state !== 'complete' || e.record.deleting_since !== null || e.status === 'RUNNING' || e.status === 'ERROR') {
      ctx.log.warning(`backup ${e.id} has status ${e.status}, not validated`, e.detail ? [e.detail] : []);
      skipped++;
      continue;
    }
    await validateOne(cat, e, e.parent === null ? undefined : byId.get(e.parent), ctx);
  }
  const after = loadInventory(cat.layout);
  let bad = 0;
  for (const t of targets) {
    const e = after.find((x) => x.id === t.id);
    if (e === undefined) continue;
    if (e.status === 'OK') {
      ctx.log.info(`backup ${e.id}: OK`);
    } else if (e.status === 'CORRUPT' || e.status === 'ORPHAN') {
      bad++;
      const msgs = e.status === 'CORRUPT' ? e.record.validation?.messages ?? [] : [e.detail ?? ''];
      ctx.log.error(`backup ${e.id}: ${e.status}`, msgs);
    }
  }
  if (o.id !== undefined && skipped > 0) {
    throw new CatalogError(`backup ${o.id} could not be validated: ${after.find((x) => x.id === o.id)?.status === 'ERROR' ? 'it or a parent has status ERROR' : 'it or a parent is not complete'}`);
  }
  return bad;
}
