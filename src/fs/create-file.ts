/**
 * Creating the files the client writes itself (tar files, backup_manifest.tmp, -X stream segments and
 * their archive_status files, the completion marker's .tmp) so that whatever already sits at the
 * path (a symbolic link an archive planted, a hard link, a device) is never written through.
 *
 * - createNewFile(): O_CREAT|O_EXCL|O_NOFOLLOW: a new regular file or an error (EEXIST also for a
 *   dangling symlink; nothing is followed).
 * - replaceFile(): a name that may legitimately exist already (a marker's leftover .tmp) is unlinked
 *   first (never a directory), then created as by createNewFile(); if another process recreates the
 *   name in between, the O_EXCL open fails instead of following it.
 * - openExistingFile(): reopen a regular file this client may reuse (a WAL segment) with O_NOFOLLOW,
 *   refusing anything that is not a regular file with a single link.
 *
 * Errors are the raw errno errors: callers wrap them in their own (pg's) message.
 */
import { constants, fstatSync, lstatSync, openSync, closeSync, unlinkSync, writeSync } from 'node:fs';
import { open as openHandle, type FileHandle } from 'node:fs/promises';

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** An errno-style error for an object we refuse to write through. */
function refused(path: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${what} is in the way`), { code: 'EEXIST', path });
}

/** Create `path` as a new regular file (`readable`: O_RDWR instead of O_WRONLY); returns the fd. */
export function createNewFile(path: string, mode: number, readable = false): number {
  const flags = readable ? (CREATE_FLAGS & ~constants.O_WRONLY) | constants.O_RDWR : CREATE_FLAGS;
  return openSync(path, flags, mode);
}

/** Remove whatever non-directory is at `path`, then create a new regular file there. */
export function replaceFile(path: string, mode: number, readable = false): number {
  try {
    const st = lstatSync(path);
    if (st.isDirectory()) throw refused(path, 'a directory');
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return createNewFile(path, mode, readable);
}

/**
 * Open an existing regular file for reading and writing without following a symlink; a file with
 * more than one link (a hard link to something elsewhere) is refused too.
 */
export function openExistingFile(path: string): number {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refused(path, 'not a regular file');
    if (st.nlink > 1) throw refused(path, 'a file with other hard links');
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** createNewFile() as a FileHandle (read and write), for the WAL writers. */
export function createNewFileHandle(path: string, mode: number): Promise<FileHandle> {
  return openHandle(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
}

/** openExistingFile() as a FileHandle. */
export async function openExistingFileHandle(path: string): Promise<FileHandle> {
  const fh = await openHandle(path, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refused(path, 'not a regular file');
    if (st.nlink > 1) throw refused(path, 'a file with other hard links');
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
  return fh;
}

/** Write `contents` to a new file at `path` (replaceFile(): whatever non-directory was there is removed first). */
export function writeNewFile(path: string, contents: Buffer | string, mode: number): void {
  const fd = replaceFile(path, mode);
  try {
    const data = typeof contents === 'string' ? Buffer.from(contents) : contents;
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
  } finally {
    closeSync(fd);
  }
}
