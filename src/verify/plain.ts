/**
 * Plain format (pg_verifybackup's verify_plain_backup_directory/_file and verify_backup_checksums):
 * a walk in directory order that checks presence, type and size against the manifest, then, once
 * every file is known, the checksums of the files that passed.
 */
import { closeSync, openSync, opendirSync, readSync, statSync, type Stats } from 'node:fs';
import { strerror } from '../errors.js';
import { createChecksummer } from '../manifest/checksum.js';
import { XLOG_CONTROL_FILE } from '../pgdata/control-file.js';
import { READ_CHUNK_SIZE } from '../wal/read/archive-file.js';
import type { VerifierContext } from './context.js';
import { verifyControlFile } from './control-file-check.js';
import { shouldIgnoreRelpath } from './ignore-list.js';
import { shouldVerifyChecksum, type ManifestEntry } from './manifest-files.js';

export function verifyPlainDirectory(ctx: VerifierContext, relpath: string | undefined, fullpath: string): void {
  const r = ctx.reporter;
  let dir;
  try {
    dir = opendirSync(fullpath);
  } catch (e) {
    r.backupError(`could not open directory "${fullpath}": ${strerror(e)}`);
    if (relpath !== undefined) ctx.ignore.push(relpath);
    return;
  }
  try {
    for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
      const newrel = relpath === undefined ? d.name : `${relpath}/${d.name}`;
      if (!shouldIgnoreRelpath(ctx.ignore, newrel)) verifyPlainFile(ctx, newrel, `${fullpath}/${d.name}`);
    }
  } finally {
    dir.closeSync();
  }
}

function verifyPlainFile(ctx: VerifierContext, relpath: string, fullpath: string): void {
  const r = ctx.reporter;
  let st: Stats;
  try {
    st = statSync(fullpath);
  } catch (e) {
    r.backupError(`could not stat file or directory "${relpath}": ${strerror(e)}`);
    ctx.ignore.push(relpath);
    return;
  }
  if (st.isDirectory()) {
    verifyPlainDirectory(ctx, relpath, fullpath);
    return;
  }
  if (!st.isFile()) {
    r.backupError(`"${relpath}" is not a regular file or directory`);
    return;
  }
  const m = ctx.manifest.byPath.get(relpath);
  if (m === undefined) {
    r.backupError(`"${relpath}" is present on disk but not in the manifest`);
    return;
  }
  m.matched = true;
  if (m.file.size !== st.size) {
    r.backupError(`"${relpath}" has size ${st.size} on disk but size ${m.file.size} in the manifest`);
    m.bad = true;
  }
  const manifest = ctx.manifest.manifest;
  if (manifest.version !== 1 && relpath === XLOG_CONTROL_FILE) {
    verifyControlFile(fullpath, manifest.systemIdentifier ?? 0n, r);
  }
  if (ctx.options.progress && !ctx.options.skipChecksums && shouldVerifyChecksum(m)) ctx.progress.totalSize += m.file.size;
}

/**
 * The checksum pass over every file that was found with the right size.  The files are read
 * synchronously, as pg does, into one reused buffer: an asynchronous read costs a round trip through
 * libuv's thread pool per 128 kB, which made pg_verifybackup -n on a 1.2 GB backup take 0.95 s instead of 0.38 s.
 */
export function verifyBackupChecksums(ctx: VerifierContext): void {
  ctx.progress.report(false);
  const buffer = Buffer.allocUnsafe(READ_CHUNK_SIZE);
  for (const m of ctx.manifest.hashOrder()) {
    if (shouldVerifyChecksum(m) && !shouldIgnoreRelpath(ctx.ignore, m.file.path)) {
      verifyFileChecksum(ctx, m, `${ctx.options.backupDirectory}/${m.file.path}`, buffer);
    }
  }
  ctx.progress.report(true);
}

function verifyFileChecksum(ctx: VerifierContext, m: ManifestEntry, fullpath: string, buffer: Buffer): void {
  const r = ctx.reporter;
  const relpath = m.file.path;
  let fd: number;
  try {
    fd = openSync(fullpath, 'r');
  } catch (e) {
    r.backupError(`could not open file "${relpath}": ${strerror(e)}`);
    return;
  }
  const sum = createChecksummer(m.file.checksumAlgorithm);
  let bytesRead = 0;
  let readError: unknown;
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      bytesRead += n;
      sum.update(buffer.subarray(0, n));
      ctx.progress.doneSize += n;
      ctx.progress.report(false);
    }
  } catch (e) {
    readError = e;
  }
  try {
    closeSync(fd);
  } catch (e) {
    r.backupError(`could not close file "${relpath}": ${strerror(e)}`);
    return;
  }
  if (readError !== undefined) {
    r.backupError(`could not read file "${relpath}": ${strerror(readError)}`);
    return;
  }
  if (bytesRead !== m.file.size) {
    r.backupError(`file "${relpath}" should contain ${m.file.size} bytes, but read ${bytesRead}`);
    return;
  }
  compareChecksum(ctx, m, sum.digest(), (expectedLen, gotLen) =>
    `file "${relpath}" has checksum of length ${expectedLen}, but expected ${gotLen}`, `checksum mismatch for file "${relpath}"`);
}

/** Compare a computed digest with the manifest's, by length first as pg does. */
export function compareChecksum(
  ctx: VerifierContext,
  m: ManifestEntry,
  digest: string,
  lengthMessage: (manifestLength: number, computedLength: number) => string,
  mismatchMessage: string,
): void {
  const expected = m.file.checksum.toLowerCase();
  if (expected.length !== digest.length) ctx.reporter.backupError(lengthMessage(expected.length / 2, digest.length / 2));
  else if (expected !== digest) ctx.reporter.backupError(mismatchMessage);
}
