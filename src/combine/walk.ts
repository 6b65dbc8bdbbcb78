/**
 * The walk of the final backup (process_directory_recursively): every directory is recreated, every
 * regular file is copied, INCREMENTAL.* files in relation directories are reconstructed, and each
 * output file gets its manifest entry in the order the directory lists it.
 */
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { createChecksummer, type ChecksumAlgorithm } from '../manifest/checksum.js';
import type { ManifestWriter } from '../manifest/write.js';
import { manifestKey, type LoadedManifest } from './chain.js';
import { copyFile } from './copy-file.js';
import { closeDirectory, nextEntry, openDirectory } from './dir-entries.js';
import { fileError } from './files.js';
import { INCREMENTAL_PREFIX } from './incremental-file.js';
import type { CopyMethod } from './options.js';
import { reconstructFromIncrementalFile } from './reconstruct.js';
import type { CombineLogger } from './report.js';
import type { Writeback } from './writeback.js';
import { parseOid } from './tablespaces.js';

export interface WalkContext {
  /** The backups before the final one, oldest first. */
  priorDirs: readonly string[];
  /** Manifests of all inputs, oldest first; the final backup's is last. */
  manifests: readonly (LoadedManifest | undefined)[];
  writer: ManifestWriter | undefined;
  manifestChecksums: ChecksumAlgorithm;
  copyMethod: CopyMethod;
  debug: boolean;
  dryRun: boolean;
  blcksz: number;
  relsegSize: number;
  fileMode: number;
  dirMode: number;
  log: CombineLogger;
  /** Called after each output file (for progress). */
  onFile?: (bytes: number) => void;
  /** Early writeback of the output (the command with its final sync on). */
  writeback?: Writeback | undefined;
}

/**
 * Process `inputDirectory/relativePath` into `outputDirectory/relativePath`.  `tsoid` is the
 * tablespace's OID when walking a user tablespace (0 for the main directory).
 */
export function processDirectoryRecursively(tsoid: number, inputDirectory: string, outputDirectory: string, relativePath: string | undefined, ctx: WalkContext): void {
  const { log } = ctx;
  let isPgTblspc = false;
  let isPgWal = false;
  let isIncrementalDir = false;
  if (tsoid !== 0) isIncrementalDir = true;
  else if (relativePath !== undefined) {
    isPgTblspc = relativePath === 'pg_tblspc';
    isPgWal = relativePath === 'pg_wal' || relativePath.startsWith('pg_wal/');
    isIncrementalDir = relativePath.startsWith('base/') || relativePath === 'global' || relativePath.startsWith('pg_tblspc/');
  }
  const checksumAlgorithm: ChecksumAlgorithm = isPgWal ? 'NONE' : ctx.manifestChecksums;
  const latestManifest = ctx.manifests[ctx.manifests.length - 1];

  let ifulldir: string;
  let ofulldir: string;
  let manifestPrefix: string;
  if (relativePath === undefined) {
    ifulldir = inputDirectory;
    ofulldir = outputDirectory;
    manifestPrefix = tsoid !== 0 ? `pg_tblspc/${tsoid}/` : '';
  } else {
    ifulldir = `${inputDirectory}/${relativePath}`;
    ofulldir = `${outputDirectory}/${relativePath}`;
    manifestPrefix = tsoid !== 0 ? `pg_tblspc/${tsoid}/${relativePath}/` : `${relativePath}/`;
    if (ctx.dryRun) log.debug(`would create directory "${ofulldir}"`);
    else {
      log.debug(`creating directory "${ofulldir}"`);
      try {
        mkdirSync(ofulldir, { mode: ctx.dirMode });
      } catch (e) {
        throw fileError(`could not create directory "${ofulldir}"`, ofulldir, e);
      }
    }
  }

  const dir = openDirectory(ifulldir);
  try {
    for (let de = nextEntry(dir, ifulldir); de !== undefined; de = nextEntry(dir, ifulldir)) {
      const ifullpath = `${ifulldir}/${de.name}`;
      // The tablespaces themselves are walked on their own (scanForExistingTablespaces).
      if (isPgTblspc && parseOid(de.name) !== undefined && (de.type === 'link' || de.type === 'dir')) continue;
      if (de.type === 'dir') {
        const sub = relativePath === undefined ? de.name : `${relativePath}/${de.name}`;
        processDirectoryRecursively(tsoid, inputDirectory, outputDirectory, sub, ctx);
        continue;
      }
      if (de.type !== 'file') {
        log.warning(de.type === 'link' ? `skipping symbolic link "${ifullpath}"` : `skipping special file "${ifullpath}"`);
        continue;
      }
      if (relativePath === undefined && (de.name === 'backup_label' || de.name === 'backup_manifest')) continue;

      let ofullpath: string;
      let manifestPath: string;
      let checksum = '';
      // The output's stat when the copy made one (a kernel copy checks the mode), else made below.
      let st: Stats | undefined;
      if (isIncrementalDir && de.name.startsWith(INCREMENTAL_PREFIX)) {
        const bare = de.name.slice(INCREMENTAL_PREFIX.length);
        ofullpath = `${ofulldir}/${bare}`;
        manifestPath = `${manifestPrefix}${bare}`;
        ({ checksum, stat: st } = reconstructFromIncrementalFile({
          inputFilename: ifullpath,
          outputFilename: ofullpath,
          relativePath: manifestPrefix,
          bareFileName: bare,
          priorDirs: ctx.priorDirs,
          manifests: ctx.manifests,
          manifestPath,
          checksumAlgorithm,
          copyMethod: ctx.copyMethod,
          debug: ctx.debug,
          dryRun: ctx.dryRun,
          blcksz: ctx.blcksz,
          relsegSize: ctx.relsegSize,
          fileMode: ctx.fileMode,
          log,
          writeback: ctx.writeback,
        }));
      } else {
        manifestPath = `${manifestPrefix}${de.name}`;
        // The final backup's manifest checksum is reused when it is of the requested kind.
        if (checksumAlgorithm !== 'NONE' && latestManifest !== undefined) {
          const mfile = latestManifest.files.get(manifestKey(manifestPath));
          if (mfile === undefined) {
            log.warning(`manifest file "${inputDirectory}/backup_manifest" contains no entry for file "${manifestPath}"`);
          } else if (mfile.checksumAlgorithm === checksumAlgorithm) {
            checksum = mfile.checksum.toLowerCase();
          }
        }
        const summer = createChecksummer(checksum !== '' ? 'NONE' : checksumAlgorithm);
        ofullpath = `${ofulldir}/${de.name}`;
        st = copyFile(ifullpath, ofullpath, summer, ctx.copyMethod, { log, fileMode: ctx.fileMode, blcksz: ctx.blcksz, dryRun: ctx.dryRun });
        if (summer.algorithm !== 'NONE' && !ctx.dryRun) checksum = summer.digest();
      }

      if (ctx.writer !== undefined || ctx.onFile !== undefined) {
        if (ctx.dryRun) {
          ctx.onFile?.(0);
          continue;
        }
        if (st === undefined) {
          try {
            st = statSync(ofullpath);
          } catch (e) {
            throw fileError(`could not stat file "${ofullpath}"`, ofullpath, e);
          }
        }
        ctx.writer?.addFile(manifestPath, st.size, Math.floor(st.mtimeMs / 1000), checksumAlgorithm, checksum);
        ctx.onFile?.(st.size);
      }
      if (ctx.writeback !== undefined && !ctx.dryRun) ctx.writeback.done(ofullpath, st?.size ?? 0);
    }
  } finally {
    try {
      closeDirectory(dir, ifulldir);
    } catch {
      /* nothing more to report */
    }
  }
}
