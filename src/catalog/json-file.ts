/**
 * Catalog files (settings, records) are JSON written atomically: `<file>.tmp` is created anew
 * (O_EXCL|O_NOFOLLOW after removing whatever was there), written, fsynced, renamed over the file,
 * and the directory fsynced, so a crash leaves either the old or the new version.
 */
import { closeSync, fsyncSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { FileError, strerror } from '../errors.js';
import { replaceFile } from '../fs/create-file.js';
import { durableRename } from '../fs/fsync.js';

export function writeJsonFile(path: string, value: unknown, mode = 0o600): void {
  const tmp = `${path}.tmp`;
  let fd: number;
  try {
    fd = replaceFile(tmp, mode);
  } catch (e) {
    throw new FileError(`could not create file "${tmp}": ${strerror(e)}`, tmp, { cause: e });
  }
  try {
    const data = Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw new FileError(`could not write file "${tmp}": ${strerror(e)}`, tmp, { cause: e });
  }
  closeSync(fd);
  durableRename(tmp, path, () => undefined);
}

/** The parsed JSON object in `path`; undefined when there is no such file.  Throws FileError otherwise. */
export function readJsonObject(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FileError(`could not read file "${path}": ${strerror(e)}`, path, { cause: e });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FileError(`file "${path}" is not valid JSON`, path);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FileError(`file "${path}" does not hold a JSON object`, path);
  return v as Record<string, unknown>;
}
