/**
 * Copying a whole file into the output (copy_file.c): --copy reads and writes 50 blocks at a time,
 * checksumming as it goes (when no checksum is to be computed, the kernel copies the file instead:
 * the same bytes, fewer copies); --clone makes a reflink (FICLONE; Node's COPYFILE_FICLONE_FORCE);
 * --copy-file-range hands the whole file to the kernel (Node's copyFile, which libuv does with
 * copy_file_range(2) on Linux); --link makes a hard link.  The last three re-read the source for the
 * manifest checksum when one must be computed.
 */
import { chmodSync, copyFileSync, linkSync, openSync, readSync, rmSync, writeSync, constants as fsConstants } from 'node:fs';
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

/** The mode pg's open(..., pg_file_create_mode) gives a new file: the create mode less the umask. */
export function createdFileMode(fileMode: number): number {
  return fileMode & ~process.umask();
}

/** copy_file(): copy src to dst with `method`, feeding `checksum` (NONE: nothing to compute). */
export function copyFile(src: string, dst: string, checksum: Checksummer, method: CopyMethod, ctx: CopyContext): void {
  const strategy = STRATEGY[method];
  if (ctx.dryRun) {
    closeQuietly(openForRead(src));
    ctx.log.debug(strategy ? `would copy "${src}" to "${dst}" using strategy ${strategy}` : `would copy "${src}" to "${dst}"`);
    return;
  }
  if (strategy) ctx.log.debug(`copying "${src}" to "${dst}" using strategy ${strategy}`);
  else if (checksum.algorithm === 'NONE') ctx.log.debug(`copying "${src}" to "${dst}"`);
  else ctx.log.debug(`copying "${src}" to "${dst}" and checksumming with ${checksum.algorithm}`);
  switch (method) {
    case 'copy':
      if (checksum.algorithm !== 'NONE') {
        copyFileBlocks(src, dst, checksum, ctx);
        return;
      }
      // Nothing to checksum: let the kernel move the bytes (same result, no trip through this process).
      copyWithKernel(src, dst, fsConstants.COPYFILE_EXCL, ctx, (e) => fileError(`could not write to file "${dst}"`, dst, e), 'could not open file');
      return;
    case 'clone':
      copyWithKernel(src, dst, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE_FORCE, ctx, (e) =>
        fileError(`error while cloning file "${src}" to "${dst}"`, dst, e));
      break;
    case 'copy-file-range':
      copyWithKernel(src, dst, fsConstants.COPYFILE_EXCL, ctx, (e) =>
        fileError(`error while copying file range from "${src}" to "${dst}"`, dst, e));
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

/** --clone and --copy-file-range: open the source first (pg's message), then let the kernel copy. */
function copyWithKernel(src: string, dst: string, flags: number, ctx: CopyContext, failure: (e: unknown) => Error, createFailure = 'could not create file'): void {
  closeQuietly(openForRead(src));
  try {
    copyFileSync(src, dst, flags);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw fileError(`${createFailure} "${dst}"`, dst, e);
    rmSync(dst, { force: true });
    throw failure(e);
  }
  // copyFile gives the copy the source's mode; pg creates it with the output's file mode.
  try {
    chmodSync(dst, createdFileMode(ctx.fileMode));
  } catch (e) {
    throw fileError(`could not change permissions of file "${dst}"`, dst, e);
  }
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
