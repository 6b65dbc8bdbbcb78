/**
 * Output directories and their cleanup on failure (create_output_directory, pg_check_dir,
 * cleanup_directories_atexit): a directory this run created is removed, one it found empty is
 * emptied, newest registration first, with pg's messages.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { FileError } from '../errors.js';
import { removeTree } from '../fs/target-dir.js';
import { fileError } from './files.js';
import type { CombineLogger } from './report.js';

interface CleanupEntry {
  path: string;
  removeTopDir: boolean;
}

export class OutputDirectories {
  private readonly cleanup: CleanupEntry[] = [];

  constructor(private readonly log: CombineLogger, private readonly dirMode: number, private readonly dryRun: boolean) {}

  /** Create `dir` (with parents) unless it exists empty; anything in it is an error. */
  create(dir: string): void {
    let entries: string[] | undefined;
    try {
      entries = readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(`could not access directory "${dir}"`, dir, e);
    }
    if (entries === undefined) {
      if (this.dryRun) {
        this.log.debug(`would create directory "${dir}"`);
        return;
      }
      this.log.debug(`creating directory "${dir}"`);
      try {
        mkdirSync(dir, { recursive: true, mode: this.dirMode });
      } catch (e) {
        throw fileError(`could not create directory "${dir}"`, dir, e);
      }
      this.cleanup.unshift({ path: dir, removeTopDir: true });
      return;
    }
    if (entries.length > 0) throw new FileError(`directory "${dir}" exists but is not empty`, dir);
    this.log.debug(`using existing directory "${dir}"`);
    this.cleanup.unshift({ path: dir, removeTopDir: false });
  }

  /** After a failure: remove what this run created, empty what it found empty. */
  removeAll(): void {
    for (const d of this.cleanup.splice(0)) {
      if (d.removeTopDir) {
        this.log.info(`removing output directory "${d.path}"`);
        if (!removeTree(d.path, true)) this.log.error('failed to remove output directory');
      } else {
        this.log.info(`removing contents of output directory "${d.path}"`);
        if (!removeTree(d.path, false)) this.log.error('failed to remove contents of output directory');
      }
    }
  }

  /** On success: keep everything. */
  keep(): void {
    this.cleanup.length = 0;
  }
}
