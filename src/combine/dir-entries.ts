/**
 * Directory entries in the order readdir(3) returns them (fs.opendirSync, unlike fs.readdirSync,
 * does not sort), with get_dirent_type()'s answer: the d_type when the file system gives one,
 * otherwise lstat (symbolic links are not followed).  pg_combinebackup writes its manifest in this
 * order, so keeping it is what makes our manifest list the files as pg's does.
 */
import { lstatSync, opendirSync, type Dir, type Dirent, type Stats } from 'node:fs';
import { fileError } from './files.js';

export type EntryType = 'file' | 'dir' | 'link' | 'other';

export interface DirEntry {
  name: string;
  type: EntryType;
}

function typeOf(d: Dirent | Stats): EntryType | undefined {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'link';
  if (d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice()) return 'other';
  return undefined;
}

/** Open a directory for reading: `could not open directory "%s": %m`. */
export function openDirectory(path: string): Dir {
  try {
    return opendirSync(path, { bufferSize: 128 });
  } catch (e) {
    throw fileError(`could not open directory "${path}"`, path, e);
  }
}

/** The next entry of `dir` (never "." or ".."), or undefined at the end. */
export function nextEntry(dir: Dir, dirPath: string): DirEntry | undefined {
  let d: Dirent | null;
  try {
    d = dir.readSync();
  } catch (e) {
    throw fileError(`could not read directory "${dirPath}"`, dirPath, e);
  }
  if (d === null) return undefined;
  const full = `${dirPath}/${d.name}`;
  let type = typeOf(d);
  if (type === undefined) {
    try {
      type = typeOf(lstatSync(full)) ?? 'other';
    } catch (e) {
      throw fileError(`could not stat file "${full}"`, full, e);
    }
  }
  return { name: d.name, type };
}

export function closeDirectory(dir: Dir, path: string): void {
  try {
    dir.closeSync();
  } catch (e) {
    throw fileError(`could not close directory "${path}"`, path, e);
  }
}
