/**
 * Tar format (pg_verifybackup's verify_tar_backup, precheck_tar_backup_file, verify_tar_file): every
 * top-level entry that is not ignored must be a regular file named base, pg_wal or a tablespace OID,
 * with .tar, .tgz, .tar.gz, .tar.lz4 or .tar.zst; then each archive but pg_wal's is streamed through
 * its decompressor and tar parser into the member checks.  The WAL archives are remembered for the
 * WAL stage (pg 18 does not read them at all).
 */
import { statSync, type Dir } from 'node:fs';
import type { CompressionAlgorithm } from '../compression/compression.js';
import { PgBasebackupError, strerror } from '../errors.js';
import { pumpArchiveFile } from '../wal/read/archive-file.js';
import type { VerifierContext } from './context.js';
import { shouldIgnoreRelpath } from './ignore-list.js';
import { MemberVerifier } from './member-verifier.js';
import { VerifyExit } from './report.js';

export interface TarArchive {
  relpath: string;
  /** The tablespace's OID, undefined for base and pg_wal. */
  tablespaceOid: number | undefined;
  compression: CompressionAlgorithm;
  kind: 'base' | 'pg_wal' | 'tablespace';
}

const OID_MAX = 4294967295;

const SUFFIXES: Record<string, CompressionAlgorithm> = {
  '.tar': 'none',
  '.tgz': 'gzip',
  '.tar.gz': 'gzip',
  '.tar.lz4': 'lz4',
  '.tar.zst': 'zstd',
};

/** What an archive name says (kind, OID, compression), or undefined when it is not expected. */
export function classifyArchiveName(relpath: string): TarArchive | undefined {
  let suffix: string;
  let kind: TarArchive['kind'];
  let tablespaceOid: number | undefined;
  if (relpath.startsWith('base')) {
    suffix = relpath.slice(4);
    kind = 'base';
  } else if (relpath.startsWith('pg_wal')) {
    suffix = relpath.slice(6);
    kind = 'pg_wal';
  } else {
    // strtoul: blanks, an optional sign, decimal digits.
    const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(relpath);
    if (m === null || m[1] === '-') return undefined;
    const num = Number(m[2]);
    if (num <= 0 || num > OID_MAX) return undefined;
    suffix = relpath.slice(m[0].length);
    kind = 'tablespace';
    tablespaceOid = num;
  }
  const compression = SUFFIXES[suffix];
  if (compression === undefined) return undefined;
  return { relpath, tablespaceOid, compression, kind };
}

/** Returns the WAL-holding archives found (pg_wal.tar* and base.tar*), for the WAL stage. */
export async function verifyTarBackup(ctx: VerifierContext, dir: Dir): Promise<{ walArchive?: TarArchive; baseArchive?: TarArchive }> {
  const r = ctx.reporter;
  ctx.progress.report(false);
  const tarfiles: TarArchive[] = [];
  const found: { walArchive?: TarArchive; baseArchive?: TarArchive } = {};
  try {
    for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
      const filename = d.name;
      if (shouldIgnoreRelpath(ctx.ignore, filename)) continue;
      const fullpath = `${ctx.options.backupDirectory}/${filename}`;
      let size: number;
      try {
        const st = statSync(fullpath);
        if (!st.isFile()) {
          r.backupError(`file "${filename}" is not a regular file`);
          continue;
        }
        size = st.size;
      } catch (e) {
        r.backupError(`could not stat file or directory "${filename}": ${strerror(e)}`);
        continue;
      }
      const tar = classifyArchiveName(filename);
      if (tar === undefined) {
        r.backupError(`file "${filename}" is not expected in a tar format backup`);
        continue;
      }
      if (tar.kind === 'pg_wal') {
        found.walArchive ??= tar;
        continue;
      }
      if (tar.kind === 'base') found.baseArchive ??= tar;
      tarfiles.push(tar);
      if (ctx.options.progress) ctx.progress.totalSize += size;
    }
  } finally {
    dir.closeSync();
  }
  for (const tar of tarfiles) await verifyTarFile(ctx, tar);
  ctx.progress.report(true);
  return found;
}

async function verifyTarFile(ctx: VerifierContext, tar: TarArchive): Promise<void> {
  const fullpath = `${ctx.options.backupDirectory}/${tar.relpath}`;
  const sink = new MemberVerifier(ctx, tar.relpath, tar.tablespaceOid);
  try {
    await pumpArchiveFile(fullpath, tar.compression, sink, {
      onRead: (n) => {
        ctx.progress.doneSize += n;
        ctx.progress.report(false);
      },
    });
  } catch (e) {
    if (e instanceof VerifyExit) throw e;
    if (e instanceof PgBasebackupError) ctx.reporter.fatal(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined) {
      ctx.reporter.backupError(`could not ${code === 'ENOENT' || code === 'EACCES' ? 'open' : 'read'} file "${tar.relpath}": ${strerror(e)}`);
      return;
    }
    throw e;
  }
}
