/**
 * Copying a whole file into the output (copy_file.c): --copy reads and writes 50 blocks at a time,
 * checksumming as it goes (when no checksum is to be computed, the kernel copies the file instead:
 * the same bytes, fewer copies); --clone makes a reflink (FICLONE; Node's COPYFILE_FICLONE_FORCE);
 * --copy-file-range hands the whole file to the kernel (Node's copyFile, which libuv does with
 * copy_file_range(2) on Linux); --link makes a hard link.  The last three re-read the source for the
 * manifest checksum when one must be computed.
 */
import { chmodSync, copyFileSync, linkSync, openSync, readSync, rmSync, statSync, writeSync, constants as fsConstants, type Stats } from 'node:fs';
import type { Checksummer } from '../manifest/checksum.js';
import { closeQuietly } from './incremental-file.js';
import { fileError, openForRead } from './files.js';
import type { CopyMethod } from './options.js';
import type { CombineLogger } from './report.js';

export interface CopyContext {
  log: CombineLogger;
  /** pg_file_create_mode of the output. */
  fileMode: number;
  blcksz: number;
  dryRun: boolean;
}

const STRATEGY: Record<CopyMethod, string | undefined> = {
  copy: undefined,
  clone: 'clone',
  'copy-file-range': 'copy_file_range',
  link: 'link',
};

let chunk: Buffer | undefined;
/** One reusable buffer of 50 blocks (pg's copy and checksum buffer size). */
function copyBuffer(blcksz: number): Buffer {
  if (chunk === undefined || chunk.length !== 50 * blcksz) chunk = Buffer.allocUnsafe(50 * blcksz);
  return chunk;
}

let umask: number | undefined;
/** The mode pg's open(..., pg_file_create_mode) gives a new file: the create mode less the umask. */
export function createdFileMode(fileMode: number): number {
  umask ??= process.umask();
  return fileMode & ~umask;
}

function logCopy(src: string, dst: string, checksum: Checksummer, method: CopyMethod, ctx: CopyContext): void {
  const strategy = STRATEGY[method];
  if (strategy) ctx.log.debug(`copying "${src}" to "${dst}" using strategy ${strategy}`);
  else if (checksum.algorithm === 'NONE') ctx.log.debug(`copying "${src}" to "${dst}"`);
  else ctx.log.debug(`copying "${src}" to "${dst}" and checksumming with ${checksum.algorithm}`);
}

/** The kernel copy of `method` (not --link): copyFile's flags and pg's failure texts. */
function kernelCopy(src: string, dst: string, method: CopyMethod): { flags: number; failure: (e: unknown) => Error; createFailure: string } {
  switch (method) {
    case 'clone':
      return {
        flags: fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE_FORCE,
        failure: (e) => fileError(`error while cloning file "${src}" to "${dst}"`, dst, e),
        createFailure: 'could not create file',
      };
    case 'copy-file-range':
      return {
        flags: fsConstants.COPYFILE_EXCL,
        failure: (e) => fileError(`error while copying file range from "${src}" to "${dst}"`, dst, e),
        createFailure: 'could not create file',
      };
    default:
      return { flags: fsConstants.COPYFILE_EXCL, failure: (e) => fileError(`could not write to file "${dst}"`, dst, e), createFailure: 'could not open file' };
  }
}

/**
 * copy_file(): copy src to dst with `method`, feeding `checksum` (NONE: nothing to compute).  Returns
 * the copy's stat when a kernel copy made one (it checks the copy's mode).
 */
export function copyFile(src: string, dst: string, checksum: Checksummer, method: CopyMethod, ctx: CopyContext): Stats | undefined {
  const strategy = STRATEGY[method];
  if (ctx.dryRun) {
    closeQuietly(openForRead(src));
    ctx.log.debug(strategy ? `would copy "${src}" to "${dst}" using strategy ${strategy}` : `would copy "${src}" to "${dst}"`);
    return undefined;
  }
  logCopy(src, dst, checksum, method, ctx);
  let st: Stats | undefined;
  switch (method) {
    case 'copy':
      if (checksum.algorithm !== 'NONE') {
        copyFileBlocks(src, dst, checksum, ctx);
        return undefined;
      }
      // Nothing to checksum: let the kernel move the bytes (same result, no trip through this process).
      return copyWithKernel(src, dst, ctx, kernelCopy(src, dst, method));
    case 'clone':
    case 'copy-file-range':
      st = copyWithKernel(src, dst, ctx, kernelCopy(src, dst, method));
      break;
    case 'link':
      try {
        linkSync(src, dst);
      } catch (e) {
        throw fileError(`could not create link from "${src}" to "${dst}"`, dst, e);
      }
      break;
  }
  checksumFile(src, checksum, ctx.blcksz);
  return st;
}

/**
 * A failed kernel copy, with pg's text: pg opens the source first (`could not open file`), then
 * creates the destination; the check of the source is made here, only when the copy failed.
 */
function copyFailure(src: string, dst: string, e: unknown, k: { failure: (e: unknown) => Error; createFailure: string }): Error {
  closeQuietly(openForRead(src));
  if ((e as NodeJS.ErrnoException).code === 'EEXIST') return fileError(`${k.createFailure} "${dst}"`, dst, e);
  rmSync(dst, { force: true });
  return k.failure(e);
}

/** copy_file_blocks(): read and write 50 blocks at a time. */
function copyFileBlocks(src: string, dst: string, checksum: Checksummer, ctx: CopyContext): void {
  const srcFd = openForRead(src);
  let dstFd: number;
  try {
    dstFd = openSync(dst, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, ctx.fileMode);
  } catch (e) {
    closeQuietly(srcFd);
    throw fileError(`could not open file "${dst}"`, dst, e);
  }
  const buf = copyBuffer(ctx.blcksz);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(srcFd, buf, 0, buf.length, null);
      } catch (e) {
        throw fileError(`could not read from file "${src}"`, src, e);
      }
      if (n === 0) break;
      writeAll(dstFd, buf, n, dst, 'could not write to file');
      checksum.update(buf.subarray(0, n));
    }
  } finally {
    closeQuietly(srcFd);
    closeQuietly(dstFd);
  }
}

/** write(2) all of buf[0..n), with `${what} "%s": %m` on failure. */
export function writeAll(fd: number, buf: Buffer, n: number, path: string, what: string): void {
  let done = 0;
  while (done < n) {
    try {
      done += writeSync(fd, buf, done, n - done);
    } catch (e) {
      throw fileError(`${what} "${path}"`, path, e);
    }
  }
}

/** A kernel copy (copyFile: copy_file_range, sendfile or FICLONE), its mode made pg's; returns its stat. */
function copyWithKernel(src: string, dst: string, ctx: CopyContext, k: { flags: number; failure: (e: unknown) => Error; createFailure: string }): Stats {
  try {
    copyFileSync(src, dst, k.flags);
  } catch (e) {
    throw copyFailure(src, dst, e, k);
  }
  let st: Stats;
  try {
    st = statSync(dst);
  } catch (e) {
    throw fileError(`could not stat file "${dst}"`, dst, e);
  }
  // copyFile gives the copy the source's mode; pg creates it with the output's file mode.
  const mode = createdFileMode(ctx.fileMode);
  if ((st.mode & 0o7777) !== mode) {
    try {
      chmodSync(dst, mode);
    } catch (e) {
      throw fileError(`could not change permissions of file "${dst}"`, dst, e);
    }
    st.mode = (st.mode & ~0o7777) | mode;
  }
  return st;
}

/** checksum_file(): read the source again for a checksum that cannot be reused. */
export function checksumFile(src: string, checksum: Checksummer, blcksz: number): void {
  if (checksum.algorithm === 'NONE') return;
  const fd = openForRead(src);
  const buf = copyBuffer(blcksz);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        throw fileError(`could not read file "${src}"`, src, e);
      }
      if (n === 0) break;
      checksum.update(buf.subarray(0, n));
    }
  } finally {
    closeQuietly(fd);
  }
}
