#!/usr/bin/env node
/**
 * The pg-basebackup-catalog command: a catalog of full and incremental base backups (init, backup,
 * show, validate, restore, delete).  The one error boundary: every failure is printed as
 * `pg-basebackup-catalog: error: ...` and exits 1.  SIGINT/SIGTERM/SIGHUP stop a running subcommand
 * cleanly (a backup is cancelled and cleaned up, its marker says failed); a second signal exits at once.
 */
import { toolVersion } from '../backup/tool-version.js';
import { installStopSignals } from '../cli/signals.js';
import { runBackupCommand } from './backup.js';
import { CATALOG_PROGNAME, CatalogError } from './catalog-error.js';
import { openCatalog, withLock } from './catalog.js';
import { deleteEntries, victimsOfDelete, victimsOfRetention } from './delete.js';
import { catalogHelpText } from './help.js';
import { runInit } from './init.js';
import { findEntry, loadInventory } from './inventory.js';
import { parseCatalogCommandLine, type CatalogOptions } from './options.js';
import { formatCatalogError, stderrCatalogLog, type Write } from './report.js';
import { runRestore } from './restore.js';
import { formatDetails, formatTable, toJson } from './show.js';
import { runValidate } from './validate.js';

async function run(o: CatalogOptions, signal: AbortSignal, stdout: Write, stderr: Write): Promise<number> {
  const log = stderrCatalogLog(stderr);
  const env = process.env;
  if (o.command === 'init') {
    runInit(o, log);
    return 0;
  }
  const cat = openCatalog(o.catalog);
  switch (o.command) {
    case 'show': {
      const entries = loadInventory(cat.layout);
      const selected = o.id === undefined ? entries : [findEntry(entries, o.id, cat.layout.root)];
      if (o.json) stdout(`${JSON.stringify([...selected].reverse().map(toJson), null, 2)}\n`);
      else stdout(o.id === undefined ? formatTable(selected) : formatDetails(selected[0] as (typeof selected)[number]));
      return 0;
    }
    case 'backup':
      await withLock(cat.layout, 'backup', () => runBackupCommand(cat, o, { env, signal, log, stderr, stdout }));
      return 0;
    case 'validate': {
      const bad = await withLock(cat.layout, 'validate', () => runValidate(cat, o, { log, signal }));
      if (bad > 0) throw new CatalogError(`${bad} ${bad === 1 ? 'backup' : 'backups'} failed validation`);
      return 0;
    }
    case 'restore':
      await withLock(cat.layout, 'restore', () => runRestore(cat, o, { env, log, signal }));
      return 0;
    case 'delete':
      await withLock(cat.layout, 'delete', () => {
        const entries = loadInventory(cat.layout);
        let victims;
        if (o.id !== undefined) {
          victims = victimsOfDelete(entries, o.id, o.cascade, cat.layout.root);
        } else {
          const r = cat.settings.retention;
          const rule = { keepFull: o.keepFull ?? r.keep_full, keepDays: o.keepDays ?? r.keep_days };
          if (rule.keepFull === null && rule.keepDays === null) {
            throw new CatalogError('no retention policy', { code: 'PGBB_USAGE', hint: 'Give --keep-full or --keep-days, or set them with init.' });
          }
          victims = victimsOfRetention(entries, rule, Date.now(), log);
          if (victims.length === 0) log.info('no backup has expired');
        }
        deleteEntries(cat.layout, victims, log, o.dryRun);
      });
      return 0;
  }
}

export async function main(argv: string[]): Promise<number> {
  const stdout: Write = (t) => void process.stdout.write(t);
  const stderr: Write = (t) => void process.stderr.write(t);
  const signals = installStopSignals((sig) => {
    stderr(`${CATALOG_PROGNAME}: error: interrupted by signal ${sig}\n`);
    process.exit(1);
  });
  try {
    const parsed = parseCatalogCommandLine(argv);
    if (parsed.kind === 'help') {
      stdout(catalogHelpText());
      return 0;
    }
    if (parsed.kind === 'version') {
      stdout(`${CATALOG_PROGNAME} (pg-basebackup) ${toolVersion()}\n`);
      return 0;
    }
    return await run(parsed.options, signals.signal, stdout, stderr);
  } catch (err) {
    stderr(formatCatalogError(err));
    return 1;
  } finally {
    signals.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
