/**
 * What a failed run removes, after pg's cleanup_directories_atexit():
 * - a data or WAL directory this run created is removed; one it found empty is emptied again;
 * - with --no-clean nothing is removed ("... not removed at user's request");
 * - after a checksum failure the data is kept (the backup is complete except for the bad pages).
 * Beyond pg (documented in the README): tablespace directories this run created are removed too, and
 * ones it found empty are emptied, instead of pg's "changes to tablespace directories will not be undone".
 */
import type { Logger } from '../log.js';
import { removeTree, type DirState } from '../fs/target-dir.js';

interface Tracked {
  path: string;
  state: DirState;
}

export class BackupCleanup {
  private dataDir: Tracked | undefined;
  private walDir: Tracked | undefined;
  private readonly tablespaceDirs: Tracked[] = [];
  /** Extra files created outside tracked directories (none today; e.g. spool files later). */
  checksumFailure = false;

  setDataDir(path: string, state: DirState): void {
    this.dataDir = { path, state };
  }
  setWalDir(path: string, state: DirState): void {
    this.walDir = { path, state };
  }
  addTablespaceDir(path: string, state: DirState): void {
    this.tablespaceDirs.push({ path, state });
  }

  /** Run the cleanup for a failed backup; messages go to the logger as pg_log_info/pg_log_error lines. */
  run(noClean: boolean, log: Logger): void {
    const error = (m: string) => log.error(m);
    const keep = noClean || this.checksumFailure;
    const clean = (t: Tracked | undefined, what: string) => {
      if (!t) return;
      if (t.state === 'created') {
        log.info(`removing ${what} directory "${t.path}"`);
        if (!removeTree(t.path, true)) error(`failed to remove ${what} directory`);
      } else {
        log.info(`removing contents of ${what} directory "${t.path}"`);
        if (!removeTree(t.path, false)) error(`failed to remove contents of ${what} directory`);
      }
    };
    if (!keep) {
      clean(this.dataDir, 'data');
      clean(this.walDir, 'WAL');
      for (const t of this.tablespaceDirs) clean(t, 'tablespace');
    } else {
      if (this.dataDir && !this.checksumFailure) log.info(`data directory "${this.dataDir.path}" not removed at user's request`);
      if (this.walDir) log.info(`WAL directory "${this.walDir.path}" not removed at user's request`);
      if (this.tablespaceDirs.length > 0 && !this.checksumFailure) log.info('changes to tablespace directories will not be undone');
    }
  }
}
