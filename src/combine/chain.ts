/**
 * The checks pg_combinebackup makes on its inputs before it writes anything (pg_combinebackup.c:
 * read_pg_version_file, check_control_files, check_backup_label_files; load_manifest.c), with pg's
 * messages.  One binary serves 17 and 18: the final backup's pg_control version (1700 or 1800)
 * decides, and every older backup must have the same one.
 */
import { FileError } from '../errors.js';
import { formatLsn, type Lsn, type TimeLineId } from '../lsn.js';
import { parseManifest, ManifestParseError, type BackupManifest, type ManifestFile } from '../manifest/parse.js';
import { parseBackupLabel } from '../pgdata/backup-label.js';
import { PG_CONTROL_VERSION_17, PG_CONTROL_VERSION_18, readControlFile, XLOG_CONTROL_FILE } from '../pgdata/control-file.js';
import { closeFile, openForReadIfExists, slurpFile } from './files.js';
import type { CombineLogger } from './report.js';

const MAXPGPATH = 1024;

/** PG_VERSION of a backup as a server version number (18 → 180000), with pg's messages. */
export function readPgVersionFile(directory: string, log: CombineLogger): number {
  const filename = `${directory}/PG_VERSION`;
  const text = slurpFile(filename, 128).toString('latin1');
  const m = /^[ \t\n\v\f\r]*[+-]?\d+/.exec(text);
  const end = m === null ? 0 : m[0].length;
  const version = m === null ? 0 : Number.parseInt(m[0], 10);
  if (m === null || text[end] !== '\n') {
    if (version < 10 && text[end] === '.') throw new FileError(`${filename}: server version too old`, filename);
    throw new FileError(`${filename}: could not parse version number`, filename);
  }
  log.debug(`read server version ${version} from file "${filename}"`);
  return version * 10000;
}

/** What the control files of a chain say. */
export interface ChainControl {
  systemIdentifier: bigint;
  /** 1700 or 1800: which major's rules apply. */
  pgControlVersion: number;
  blcksz: number;
  relsegSize: number;
}

/** check_control_files(): newest first; CRC, version, system identifier, data checksum state. */
export function checkControlFiles(dirs: readonly string[], log: CombineLogger): ChainControl {
  let result: ChainControl | undefined;
  let dataChecksumVersion = 0;
  let mismatch = false;
  for (let i = dirs.length - 1; i >= 0; i--) {
    const controlPath = `${dirs[i]}/${XLOG_CONTROL_FILE}`;
    log.debug(`reading "${controlPath}"`);
    const cf = readControlFile(controlPath);
    if (!cf.crcOk) throw new FileError(`${controlPath}: CRC is incorrect`, controlPath);
    const expected = result?.pgControlVersion;
    const known = cf.pgControlVersion === PG_CONTROL_VERSION_17 || cf.pgControlVersion === PG_CONTROL_VERSION_18;
    if (expected === undefined ? !known : cf.pgControlVersion !== expected) {
      throw new FileError(`${controlPath}: unexpected control file version`, controlPath);
    }
    if (result === undefined) {
      result = { systemIdentifier: cf.systemIdentifier, pgControlVersion: cf.pgControlVersion, blcksz: cf.blcksz, relsegSize: cf.relsegSize };
      dataChecksumVersion = cf.dataChecksumVersion;
    } else {
      if (result.systemIdentifier !== cf.systemIdentifier) {
        throw new FileError(`${controlPath}: expected system identifier ${result.systemIdentifier}, but found ${cf.systemIdentifier}`, controlPath);
      }
      if (dataChecksumVersion !== 0 && dataChecksumVersion !== cf.dataChecksumVersion) mismatch = true;
    }
  }
  const r = result as ChainControl;
  log.debug(`system identifier is ${r.systemIdentifier}`);
  if (mismatch) {
    log.warning('only some backups have checksums enabled', 'Disable, and optionally reenable, checksums on the output directory to avoid failures.');
  }
  return r;
}

/** check_backup_label_files(): newest first; returns the final backup's label bytes. */
export function checkBackupLabelFiles(dirs: readonly string[], log: CombineLogger): Buffer {
  let checkTli: TimeLineId = 0;
  let checkLsn: Lsn = 0n;
  let last: Buffer | undefined;
  const n = dirs.length;
  for (let i = n - 1; i >= 0; i--) {
    const dir = dirs[i] as string;
    const path = `${dir}/backup_label`;
    log.debug(`reading "${path}"`);
    const buf = slurpFile(path, 10000 + MAXPGPATH);
    const label = parseBackupLabel(path, buf);
    if (i > 0 && label.previousTli === 0) {
      throw new FileError(`backup at "${dir}" is a full backup, but only the first backup should be a full backup`, dir);
    }
    if (i === 0 && label.previousTli !== 0) {
      throw new FileError(`backup at "${dir}" is an incremental backup, but the first backup should be a full backup`, dir);
    }
    if (i < n - 1 && label.startTli !== checkTli) {
      throw new FileError(`backup at "${dir}" starts on timeline ${label.startTli}, but expected ${checkTli}`, dir);
    }
    if (i < n - 1 && label.startLsn !== checkLsn) {
      throw new FileError(`backup at "${dir}" starts at LSN ${formatLsn(label.startLsn)}, but expected ${formatLsn(checkLsn)}`, dir);
    }
    checkTli = label.previousTli;
    checkLsn = label.previousLsn;
    last ??= buf;
  }
  return last as Buffer;
}

/** A loaded manifest: its files by path, its WAL ranges. */
export interface LoadedManifest {
  systemIdentifier: bigint | undefined;
  files: Map<string, ManifestFile>;
  walRanges: BackupManifest['walRanges'];
}

/** load_backup_manifest(): undefined (after a warning) when the backup has none. */
export function loadBackupManifest(directory: string, log: CombineLogger): LoadedManifest | undefined {
  const pathname = `${directory}/backup_manifest`;
  const fd = openForReadIfExists(pathname);
  if (fd === undefined) {
    log.warning(`file "${pathname}" does not exist`);
    return undefined;
  }
  closeFile(fd, pathname);
  const bytes = slurpFile(pathname, Number.MAX_SAFE_INTEGER);
  const files = new Map<string, ManifestFile>();
  try {
    const m = parseManifest(bytes, {
      onVersion: (v) => {
        if (v === 1) throw new FileError('backup manifest version 1 does not support incremental backup', pathname);
      },
      onFile: (f) => {
        const key = f.pathBytes.toString('latin1');
        if (files.has(key)) throw new FileError(`duplicate path name in backup manifest: "${f.path}"`, pathname);
        files.set(key, f);
      },
    });
    return { systemIdentifier: m.systemIdentifier, files, walRanges: m.walRanges };
  } catch (e) {
    if (e instanceof ManifestParseError) throw new FileError(e.message, pathname, { cause: e });
    throw e;
  }
}

/** Manifests of every input (oldest first), then the manifest/control system identifier check. */
export function loadBackupManifests(dirs: readonly string[], systemIdentifier: bigint, log: CombineLogger): (LoadedManifest | undefined)[] {
  const manifests = dirs.map((d) => loadBackupManifest(d, log));
  manifests.forEach((m, i) => {
    if (m?.systemIdentifier !== undefined && m.systemIdentifier !== systemIdentifier) {
      const controlPath = `${dirs[i]}/${XLOG_CONTROL_FILE}`;
      throw new FileError(`${controlPath}: manifest system identifier is ${m.systemIdentifier}, but control file has ${systemIdentifier}`, controlPath);
    }
  });
  return manifests;
}

/** The manifest key of a path (its bytes, as the map above holds them). */
export function manifestKey(path: string): string {
  return Buffer.from(path, 'utf8').toString('latin1');
}
