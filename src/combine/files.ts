/**
 * Small synchronous file operations with pg_combinebackup's failure texts.  The tool works file by
 * file, as pg's does: synchronous calls keep the order of operations (and so of messages and of
 * directory entries) exactly pg's, and reads are bounded positional reads (pread), never whole files.
 */
import { closeSync, fstatSync, openSync, readSync, constants as fsConstants } from 'node:fs';
import { FileError, strerror } from '../errors.js';

/** %m for the errors this tool meets beyond those src/errors.ts names. */
export function errnoText(e: unknown): string {
  switch ((e as NodeJS.ErrnoException | undefined)?.code) {
    case 'EXDEV': return 'Invalid cross-device link';
    case 'ENOTSUP':
    case 'EOPNOTSUPP': return 'Operation not supported';
    case 'EMLINK': return 'Too many links';
    case 'EFBIG': return 'File too large';
    case 'ENOSYS': return 'Function not implemented';
    default: return strerror(e);
  }
}

export function fileError(message: string, path: string, e?: unknown): FileError {
  return new FileError(e === undefined ? message : `${message}: ${errnoText(e)}`, path, e === undefined ? {} : { cause: e });
}

/** open(path, O_RDONLY): `could not open file "%s": %m`. */
export function openForRead(path: string): number {
  try {
    return openSync(path, fsConstants.O_RDONLY);
  } catch (e) {
    throw fileError(`could not open file "${path}"`, path, e);
  }
}

/** open(path, O_RDONLY) that returns undefined when the file does not exist. */
export function openForReadIfExists(path: string): number | undefined {
  try {
    return openSync(path, fsConstants.O_RDONLY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(`could not open file "${path}"`, path, e);
  }
}

export function closeFile(fd: number, path: string): void {
  try {
    closeSync(fd);
  } catch (e) {
    throw fileError(`could not close file "${path}"`, path, e);
  }
}

/** Read up to `length` bytes at `position` (looping over short reads); returns the count read. */
export function preadFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const r = readSync(fd, buf, offset + done, length - done, position + done);
    if (r === 0) break;
    done += r;
  }
  return done;
}

/** slurp_file(): the whole of a small file; `file "%s" is too large` past maxlen. */
export function slurpFile(path: string, maxlen: number): Buffer {
  const fd = openForRead(path);
  try {
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch (e) {
      throw fileError(`could not stat file "${path}"`, path, e);
    }
    if (size > maxlen) throw new FileError(`file "${path}" is too large`, path);
    const buf = Buffer.alloc(size);
    let n: number;
    try {
      n = preadFully(fd, buf, 0, size, 0);
    } catch (e) {
      throw fileError(`could not read file "${path}"`, path, e);
    }
    if (n !== size) throw new FileError(`could not read file "${path}": read ${n} of ${size}`, path);
    return buf;
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* reported by pg only on success paths; nothing to add */
    }
  }
}
