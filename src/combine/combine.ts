/**
 * pg_combinebackup's run, step by step in pg's order: PG_VERSION of the final backup, the control
 * files, the backup labels, the manifests, the tablespaces, the output directories, the backup_label,
 * the walk of the main directory then of each tablespace, the manifest, the final sync.  On any
 * failure the output directories are cleaned up as pg does, after the error is reported.
 */
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dataDirPerm } from '../archive/file-perm.js';
import { syncBackup, syncBackupSteps } from '../fs/sync-method.js';
import { createChecksummer } from '../manifest/checksum.js';
import { ManifestWriter } from '../manifest/write.js';
import { parseBackupLabel, withoutIncrementalLines } from '../pgdata/backup-label.js';
import { checkBackupLabelFiles, checkControlFiles, loadBackupManifests, readPgVersionFile } from './chain.js';
import { fileError } from './files.js';
import type { CombineOptions } from './options.js';
import { OutputDirectories } from './output-dirs.js';
import type { CombineLogger } from './report.js';
import { runStepsAsync, runStepsSync, type Step } from './steps.js';
import { scanForExistingTablespaces, type Tablespace } from './tablespaces.js';
import { processDirectoryRecursively } from './walk.js';
import { Writeback } from './writeback.js';

/** What a finished combine reports (the completion marker's facts). */
export interface CombineResult {
  output: string;
  systemIdentifier: bigint;
  pgControlVersion: number;
  serverVersion: number;
  startLsn: bigint;
  timeline: number;
  tablespaces: Tablespace[];
  files: number;
  bytes: number;
  manifest: boolean;
  fileMode: number;
}

export interface CombineHooks {
  /** The output directory exists (or was found empty): the run is now "in progress" there. */
  onOutputReady?(fileMode: number): void;
  /** After each output file. */
  onFile?(bytes: number): void;
  /** A failure once output directories may exist: called before they are cleaned up (pg's order of messages). */
  onError?(err: unknown): void;
}

/** pg_combinebackup's run, synchronously (the final fsync too, file after file). */
export function combineBackups(opt: CombineOptions, log: CombineLogger, hooks: CombineHooks = {}): CombineResult {
  return runStepsSync(combineSteps(opt, log, hooks, false));
}

/**
 * The same run with the final fsync pass done 32 files at a time in the libuv pool (src/fs/fsync.ts,
 * as pg_basebackup's), and the output's early writeback started as it is written (writeback.ts):
 * the command's.  Copies and reconstructions stay file after file on this thread
 * (measured: whole-file copies in the pool, 8 at a time, cost more CPU than they overlapped).
 */
export function combineBackupsAsync(opt: CombineOptions, log: CombineLogger, hooks: CombineHooks = {}): Promise<CombineResult> {
  return runStepsAsync(combineSteps(opt, log, hooks, true));
}

function* combineSteps(opt: CombineOptions, log: CombineLogger, hooks: CombineHooks, concurrentSync: boolean): Generator<Step, CombineResult, void> {
  if (opt.copyMethod === 'clone') log.debug(opt.dryRun ? 'would use cloning to copy files' : 'will use cloning to copy files');
  if (opt.copyMethod === 'copy-file-range') log.debug(opt.dryRun ? 'would use copy_file_range to copy blocks' : 'will use copy_file_range to copy blocks');

  const inputs = opt.inputs;
  const finalDir = inputs[inputs.length - 1] as string;
  const version = readPgVersionFile(finalDir, log);
  const control = checkControlFiles(inputs, log);
  const lastLabel = checkBackupLabelFiles(inputs, log);
  const priorDirs = inputs.slice(0, -1);
  const manifests = loadBackupManifests(inputs, control.systemIdentifier, log);

  let mode: number;
  try {
    mode = statSync(finalDir).mode;
  } catch (e) {
    throw fileError(`could not stat file "${finalDir}"`, finalDir, e);
  }
  const perm = dataDirPerm(mode);
  const tablespaces = scanForExistingTablespaces(finalDir, opt.output, opt.tablespaceMappings, log);

  const dirs = new OutputDirectories(log, perm.dirMode, opt.dryRun);
  let writer: ManifestWriter | undefined;
  let files = 0;
  let bytes = 0;
  try {
    dirs.create(opt.output);
    for (const ts of tablespaces) if (!ts.inPlace) dirs.create(ts.newDir);
    if (!opt.dryRun) hooks.onOutputReady?.(perm.fileMode);

    if (!opt.dryRun && !opt.noManifest) {
      writer = new ManifestWriter(opt.output, control.systemIdentifier, perm.fileMode);
      if (manifests[manifests.length - 1] === undefined) {
        throw fileError('cannot generate a manifest because no manifest is available for the final input backup', opt.output);
      }
    }

    const labelPath = `${opt.output}/backup_label`;
    if (opt.dryRun) log.debug(`would generate "${labelPath}"`);
    else {
      log.debug(`generating "${labelPath}"`);
      const label = withoutIncrementalLines(lastLabel);
      try {
        writeFileSync(labelPath, label, { flag: 'wx', mode: perm.fileMode });
      } catch (e) {
        throw fileError(`could not open file "${labelPath}"`, labelPath, e);
      }
      const summer = createChecksummer(opt.manifestChecksums);
      summer.update(label);
      const digest = summer.digest();
      if (writer !== undefined) {
        let st;
        try {
          st = statSync(labelPath);
        } catch (e) {
          throw fileError(`could not stat file "${labelPath}"`, labelPath, e);
        }
        writer.addFile('backup_label', st.size, Math.floor(st.mtimeMs / 1000), opt.manifestChecksums, digest);
      }
    }

    const ctx = {
      priorDirs,
      manifests,
      writer,
      manifestChecksums: opt.manifestChecksums,
      copyMethod: opt.copyMethod,
      debug: opt.debug,
      dryRun: opt.dryRun,
      blcksz: control.blcksz,
      relsegSize: control.relsegSize,
      fileMode: perm.fileMode,
      dirMode: perm.dirMode,
      log,
      writeback: concurrentSync && !opt.noSync && !opt.dryRun ? new Writeback() : undefined,
      onFile: (n: number) => {
        files++;
        bytes += n;
        hooks.onFile?.(n);
      },
    };
    log.debug(`processing backup directory "${finalDir}"`);
    processDirectoryRecursively(0, finalDir, opt.output, undefined, ctx);

    for (const ts of tablespaces) {
      log.debug(`processing tablespace directory "${ts.oldDir}"`);
      if (!ts.inPlace) {
        const linkPath = `${opt.output}/pg_tblspc/${ts.oid}`;
        if (opt.dryRun) log.debug(`would create symbolic link from "${linkPath}" to "${ts.newDir}"`);
        else {
          log.debug(`creating symbolic link from "${linkPath}" to "${ts.newDir}"`);
          try {
            symlinkSync(ts.newDir, linkPath);
          } catch (e) {
            throw fileError(`could not create symbolic link from "${linkPath}" to "${ts.newDir}"`, linkPath, e);
          }
        }
      } else if (opt.dryRun) log.debug(`would create directory "${ts.newDir}"`);
      else {
        log.debug(`creating directory "${ts.newDir}"`);
        try {
          mkdirSync(ts.newDir, { recursive: true, mode: perm.dirMode });
        } catch (e) {
          throw fileError(`could not create directory "${ts.newDir}"`, ts.newDir, e);
        }
      }
      processDirectoryRecursively(ts.oid, ts.oldDir, ts.newDir, undefined, ctx);
    }

    const finalManifest = manifests[manifests.length - 1];
    if (writer !== undefined && finalManifest !== undefined) {
      writer.finalize(finalManifest.walRanges);
      writer = undefined;
    }

    if (!opt.noSync) {
      if (opt.dryRun) log.debug(`would recursively fsync "${opt.output}"`);
      else {
        log.debug(`recursively fsyncing "${opt.output}"`);
        const warn = (m: string) => log.warning(m);
        if (concurrentSync) yield* syncBackupSteps('plain', opt.output, opt.syncMethod, warn);
        else syncBackup('plain', opt.output, opt.syncMethod, warn);
      }
    }
    if (opt.copyMethod === 'link') {
      log.warning('--link mode was used; any modifications to the output directory might destructively modify input directories');
    }
  } catch (e) {
    writer?.abandon();
    // pg reports the error, then its exit handler cleans up.
    hooks.onError?.(e);
    dirs.removeAll();
    throw e;
  }
  dirs.keep();
  const label = parseBackupLabel(`${finalDir}/backup_label`, lastLabel);
  return {
    output: opt.output,
    systemIdentifier: control.systemIdentifier,
    pgControlVersion: control.pgControlVersion,
    serverVersion: version,
    startLsn: label.startLsn,
    timeline: label.startTli,
    tablespaces,
    files,
    bytes,
    manifest: !opt.noManifest && !opt.dryRun,
    fileMode: perm.fileMode,
  };
}
