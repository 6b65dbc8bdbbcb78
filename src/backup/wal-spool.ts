/**
 * Beyond pg: `-Ft -D - -X stream`.  pg refuses the combination (its tar WAL method must seek back in
 * pg_wal.tar).  Here the WAL received during the backup is spooled into a private temporary
 * directory (mkdtemp, mode 0700, under TMPDIR) laid out like pg_wal, and appended to the archive on
 * standard output as `pg_wal/<file>` members, then `pg_wal/archive_status/<file>.done`, before the
 * manifest and the trailer: one self-contained archive.  Segments are streamed from the spool files,
 * never held in memory whole.  The spool is removed when the backup ends, whatever happened: also on
 * process exit and on SIGINT/SIGTERM/SIGHUP (after which the signal takes its default course again,
 * unless someone else handles it: pg_basebackup installs no handler).
 */
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileError, strerror } from '../errors.js';
import type { StreamInjectTarget } from '../archive/create-chain.js';
import { DirWalWriter } from '../wal/dir-writer.js';

/** Read size for spooled files going into the archive. */
const SPOOL_READ_BYTES = 1024 * 1024;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class WalSpool {
  readonly writer: DirWalWriter;
  private removed = false;
  private readonly onExit = () => this.remove();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.remove();
    // Only our listener was keeping the default action away: let the signal do what it would have done.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  private constructor(
    readonly dir: string,
    walSegSize: number,
    private readonly fileMode: number,
  ) {
    this.writer = new DirWalWriter(dir, walSegSize, 0o600);
    process.once('exit', this.onExit);
    for (const sig of SIGNALS) process.once(sig, this.onSignal);
  }

  /** Make the spool directory (with archive_status/) under `parent` (default: the system temp dir). */
  static create(walSegSize: number, fileMode: number, parent: string = tmpdir()): WalSpool {
    const prefix = join(parent, 'pg_basebackup-wal-');
    let dir: string;
    try {
      dir = mkdtempSync(prefix); // mode 0700
    } catch (e) {
      throw new FileError(`could not create directory "${prefix}XXXXXX": ${strerror(e)}`, prefix, { cause: e });
    }
    const spool = new WalSpool(dir, walSegSize, fileMode);
    try {
      mkdirSync(join(dir, 'archive_status'), { mode: 0o700 });
    } catch (e) {
      spool.remove();
      throw new FileError(`could not create directory "${join(dir, 'archive_status')}": ${strerror(e)}`, dir, { cause: e });
    }
    return spool;
  }

  /**
   * The spooled files as archive members, in the order they are appended: history files and
   * segments by name, then their done marks by name.
   */
  members(): { name: string; path: string; size: number }[] {
    const list = (sub: string) =>
      readdirSync(join(this.dir, sub), { withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => e.name)
        .sort();
    const out: { name: string; path: string; size: number }[] = [];
    for (const name of list('')) {
      const path = join(this.dir, name);
      out.push({ name: `pg_wal/${name}`, path, size: statSync(path).size });
    }
    for (const name of list('archive_status')) {
      const path = join(this.dir, 'archive_status', name);
      out.push({ name: `pg_wal/archive_status/${name}`, path, size: statSync(path).size });
    }
    return out;
  }

  /** Append every spooled file to `archive`, reading each in 1 MB pieces. */
  async injectInto(archive: StreamInjectTarget): Promise<void> {
    for (const m of this.members()) {
      const pieces = createReadStream(m.path, { highWaterMark: SPOOL_READ_BYTES });
      try {
        await archive.injectStream(m.name, m.size, this.fileMode, pieces);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== undefined && !(e instanceof FileError)) {
          throw new FileError(`could not read file "${m.path}": ${strerror(e)}`, m.path, { cause: e });
        }
        throw e;
      } finally {
        pieces.destroy();
      }
    }
  }

  /** Remove the spool directory; idempotent, never throws. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    process.removeListener('exit', this.onExit);
    for (const sig of SIGNALS) process.removeListener(sig, this.onSignal);
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // nothing more to do: the directory lives under TMPDIR
    }
  }
}
