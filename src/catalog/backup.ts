/**
 * `backup`: a full or incremental base backup into the catalog, with our pg_basebackup code in this
 * process (plain format, WAL included with -X stream/fetch, so that every backup restores on its own
 * or with its chain).  Order of writes, each atomic: the catalog record (kind, parent) before the
 * backup starts, then the completion marker the backup code keeps beside the directory.  A run killed
 * at any point leaves a record whose status reads ERROR.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { baseBackup, type BaseBackupOptions } from '../api.js';
import { promptPassword } from '../conn/prompt-password.js';
import { newBackupId } from './backup-id.js';
import { CatalogError } from './catalog-error.js';
import type { OpenCatalog } from './catalog.js';
import { deleteEntries, victimsOfRetention } from './delete.js';
import { loadInventory, type BackupEntry } from './inventory.js';
import type { BackupCommandOptions, ConnectionArgs } from './options.js';
import { listTablespaces, probeServer, type ServerFacts, type ServerTablespace } from './probe.js';
import { writeCatalogRecord, type CatalogRecord } from './record.js';
import { backupLogger, type CatalogLog, type Write } from './report.js';
import { isUsable } from './status.js';

export interface BackupContext {
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  log: CatalogLog;
  stderr: Write;
  stdout: Write;
}

/** The command's connection options over the catalog's settings. */
export function connectionOf(cat: OpenCatalog, o: ConnectionArgs): ConnectionArgs {
  const s = cat.settings.connection;
  const c: ConnectionArgs = { passwordMode: o.passwordMode };
  const dbname = o.dbname ?? s.dbname;
  const host = o.host ?? s.host;
  const port = o.port ?? s.port;
  const user = o.user ?? s.user;
  if (dbname !== null) c.dbname = dbname;
  if (host !== null) c.host = host;
  if (port !== null) c.port = port;
  if (user !== null) c.user = user;
  return c;
}

function versionText(num: number): string {
  return `${Math.floor(num / 10000)}.${num % 10000}`;
}

/** The newest usable backup of the server's system and timeline with a manifest, or an error saying why there is none. */
export function chooseParent(entries: readonly BackupEntry[], facts: ServerFacts): BackupEntry {
  if (facts.serverVersionNum < 170000) {
    throw new CatalogError(`incremental backups need PostgreSQL 17 or later, but the server's version is ${versionText(facts.serverVersionNum)}`, {
      code: 'PGBB_USAGE',
      hint: 'Take full backups (backup --full).',
    });
  }
  if (facts.summarizeWal === false) {
    throw new CatalogError('incremental backups need WAL summarization, but summarize_wal is off on the server', {
      code: 'PGBB_USAGE',
      hint: 'Set summarize_wal = on in the server\'s configuration and take a full backup, or take full backups (backup --full).',
    });
  }
  const candidates = entries.filter(
    (e) => isUsable(e.status) && e.systemIdentifier === facts.systemIdentifier && e.timeline === facts.timeline && existsSync(join(e.dir, 'backup_manifest')),
  );
  const parent = candidates[candidates.length - 1];
  if (parent === undefined) {
    throw new CatalogError(`no valid backup of database system ${facts.systemIdentifier} on timeline ${facts.timeline} to take an incremental backup from`, {
      code: 'PGBB_USAGE',
      hint: 'Take a full backup first (backup --full).',
    });
  }
  return parent;
}

export async function runBackupCommand(cat: OpenCatalog, o: BackupCommandOptions, ctx: BackupContext): Promise<string> {
  const { layout, settings } = cat;
  const conn = connectionOf(cat, o);
  let password: string | undefined;
  const askPassword = async (prompt: string) => (password ??= await promptPassword(prompt));
  const entries = loadInventory(layout);
  const facts = await probeServer(conn, ctx.env, ctx.signal, askPassword);
  let tablespaces: ServerTablespace[] = [];
  try {
    tablespaces = await listTablespaces(conn, ctx.env, ctx.signal, askPassword);
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    ctx.log.warning(`could not list the server's tablespaces: ${(e as Error).message}`, [
      'A tablespace outside the data directory would be written at its own path on this host.',
    ]);
  }
  const other = entries.find((e) => e.systemIdentifier !== null && e.systemIdentifier !== facts.systemIdentifier);
  if (other !== undefined) {
    throw new CatalogError(`the server's database system identifier is ${facts.systemIdentifier}, but backup ${other.id} in the catalog is of system ${other.systemIdentifier}`, {
      hint: 'Use one catalog per database cluster.',
    });
  }
  const parent = o.mode === 'incremental' ? chooseParent(entries, facts) : undefined;
  const parentManifest = parent ? join(parent.dir, 'backup_manifest') : undefined;
  const record: CatalogRecord = {
    format_version: 1,
    id: '',
    kind: parent ? 'INCR' : 'FULL',
    parent: parent?.id ?? null,
    created_at: new Date().toISOString(),
    pid: process.pid,
    host: hostname(),
    validation: null,
    deleting_since: null,
    error: null,
  };
  mkdirSync(layout.backupsDir, { recursive: true, mode: 0o700 });
  record.id = newBackupId(new Date(record.created_at), layout.usedNames());
  const id = record.id;
  writeCatalogRecord(layout.recordFile(id), record);
  if (tablespaces.length > 0) mkdirSync(layout.tablespacesDir(id), { mode: 0o700 });
  ctx.log.info(`backup ${id}: starting ${parent ? `an incremental backup from ${parent.id}` : 'a full backup'}`);

  const options: BaseBackupOptions = {
    pgdata: layout.backupDir(id),
    format: 'plain',
    walMethod: o.walMethod ?? settings.wal_method,
    checkpoint: o.checkpoint ?? settings.checkpoint,
    label: o.label ?? `pg-basebackup-catalog ${id}`,
    progress: o.progress,
    verbose: o.verbose ? 1 : 0,
    ...(conn.dbname !== undefined ? { connInfo: conn.dbname } : {}),
    ...(conn.host !== undefined ? { host: conn.host } : {}),
    ...(conn.port !== undefined ? { port: conn.port } : {}),
    ...(conn.user !== undefined ? { user: conn.user } : {}),
    ...(o.maxRate !== undefined ? { maxRate: o.maxRate } : {}),
    ...(o.manifestChecksums !== undefined ? { manifestChecksums: o.manifestChecksums } : {}),
    ...(parentManifest !== undefined ? { incrementalManifest: parentManifest } : {}),
    tablespaceMappings: tablespaces.map((t) => ({ oldDir: t.location, newDir: join(layout.tablespacesDir(id), t.oid) })),
  };
  let result: Awaited<ReturnType<typeof baseBackup>>;
  try {
    result = await baseBackup(options, {
      signal: ctx.signal,
      env: ctx.env,
      logger: backupLogger(ctx.stderr, o.verbose),
      passwordMode: conn.passwordMode,
      ...(conn.passwordMode === 'never' ? {} : { password: password ?? askPassword }),
    });
  } catch (e) {
    // Failed before the completion marker was written (connecting): the record keeps the error.
    if (!existsSync(layout.markerFile(id))) writeCatalogRecord(layout.recordFile(id), { ...record, error: (e as Error).message });
    throw e;
  }
  ctx.log.info(`backup ${id} completed: ${record.kind}, ${result.startLsn} to ${result.endLsn} on timeline ${result.timeline}, ${result.bytes} bytes`);
  ctx.stdout(`${id}\n`);

  const r = settings.retention;
  if (r.after_backup && (r.keep_full !== null || r.keep_days !== null)) {
    const after = loadInventory(layout);
    const victims = victimsOfRetention(after, { keepFull: r.keep_full, keepDays: r.keep_days }, Date.now(), ctx.log);
    deleteEntries(layout, victims, ctx.log, false);
  }
  return id;
}
