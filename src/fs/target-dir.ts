/**
 * Target directories of a backup: pg's verify_dir_is_empty_or_create() and the bookkeeping that
 * cleanup needs (which directories this run created, which it found empty).
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { FileError, strerror } from '../errors.js';

export type DirState = 'created' | 'found-empty';

/**
 * Create `dir` (with parents, mode `dirMode`) if it is missing; accept it if it exists and is empty;
 * otherwise fail with pg's messages.  Returns what was done, for cleanup.
 */
export function verifyDirIsEmptyOrCreate(dir: string, dirMode: number): DirState {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new FileError(`could not access directory "${dir}": ${strerror(e)}`, dir, { cause: e });
    try {
      mkdirSync(dir, { recursive: true, mode: dirMode });
    } catch (e2) {
      throw new FileError(`could not create directory "${dir}": ${strerror(e2)}`, dir, { cause: e2 });
    }
    return 'created';
  }
  if (entries.length > 0) throw new FileError(`directory "${dir}" exists but is not empty`, dir);
  return 'found-empty';
}

/** rmtree(dir, removeTopDir): remove a tree, or only its contents.  Returns false on failure. */
export function removeTree(dir: string, removeTopDir: boolean): boolean {
  try {
    if (removeTopDir) {
      rmSync(dir, { recursive: true, force: true });
    } else {
      for (const e of readdirSync(dir)) rmSync(`${dir}/${e}`, { recursive: true, force: true });
    }
    return true;
  } catch {
    return false;
  }
}
