/**
 * One verification, in pg_verifybackup 18's order: manifest, backup directory, format, files (plain
 * walk or tar archives), files missing from the backup, plain checksums, WAL, verdict.
 */
import { opendirSync, statSync, type Dir } from 'node:fs';
import { strerror } from '../errors.js';
import type { VerifierContext } from './context.js';
import { loadManifest } from './manifest-files.js';
import type { VerifyOptions } from './options.js';
import { verifyBackupChecksums, verifyPlainDirectory } from './plain.js';
import { VerifyProgress } from './progress.js';
import { Reporter, type Write } from './report.js';
import { shouldIgnoreRelpath } from './ignore-list.js';
import { verifyTarBackup } from './tar.js';
import { parseRequiredWal, walPlace } from './wal.js';

export interface VerifyIo {
  stdout: Write;
  stderr: Write;
  stderrIsTty: boolean;
}

/** Runs a verification; returns the exit status (VerifyExit is thrown for early ends). */
export async function runVerify(options: VerifyOptions, io: VerifyIo): Promise<number> {
  const reporter: Reporter = new Reporter(io.stderr, options.exitOnError);
  const manifestPath = options.manifestPath ?? `${options.backupDirectory}/backup_manifest`;
  const manifest = loadManifest(manifestPath, reporter);
  let dir: Dir;
  try {
    dir = opendirSync(options.backupDirectory);
  } catch (e) {
    reporter.fatal(`could not open directory "${options.backupDirectory}": ${strerror(e)}`);
  }
  const o: VerifyOptions = { ...options };
  if (o.format === undefined) {
    const path = `${o.backupDirectory}/PG_VERSION`;
    try {
      statSync(path);
      o.format = 'plain';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        dir.closeSync();
        reporter.fatal(`could not stat file "${path}": ${strerror(e)}`);
      }
      o.format = 'tar';
    }
  }
  const ctx: VerifierContext = {
    options: o,
    manifest,
    reporter,
    progress: new VerifyProgress(o.progress, io.stderr, io.stderrIsTty),
    ignore: [...o.ignore],
    pgVersion: undefined,
  };
  let found = {};
  if (o.format === 'plain') {
    dir.closeSync();
    verifyPlainDirectory(ctx, undefined, o.backupDirectory);
  } else {
    found = await verifyTarBackup(ctx, dir);
  }
  for (const m of manifest.hashOrder()) {
    if (!m.matched && !shouldIgnoreRelpath(ctx.ignore, m.file.path)) {
      reporter.backupError(`"${m.file.path}" is present in the manifest but not on disk`);
    }
  }
  if (o.format === 'plain' && !o.skipChecksums) verifyBackupChecksums(ctx);
  if (!o.noParseWal) await parseRequiredWal(ctx, walPlace(ctx, found));
  if (!reporter.sawAnyError && !o.quiet) io.stdout('backup successfully verified\n');
  return reporter.sawAnyError ? 1 : 0;
}
