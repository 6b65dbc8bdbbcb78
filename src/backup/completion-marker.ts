/**
 * The completion marker `pg-basebackup-status.json` (beyond pg): a JSON file in the target directory
 * (plain: the data directory; tar: the output directory; none for `-D -` and `-t`) telling scripts
 * whether the backup there is complete.
 *
 * - Written with status "in progress" as soon as the target directory is verified or created, before
 *   any data arrives;
 * - replaced at the very end, after every fsync and the manifest rename, by the final record
 *   (status "complete", LSNs, WAL range, tablespaces ...);
 * - after a failure whose files are kept (--no-clean, or a checksum failure), status "failed" with the
 *   error; after a cleaned failure it goes with the directory's contents.
 *
 * Every write replaces the file atomically: `pg-basebackup-status.json.tmp` is written, fsynced,
 * renamed over the marker, and the directory fsynced (with -N: written and renamed, no fsync).
 * src/backup/marker-state.ts reads it back.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { FileError, strerror } from '../errors.js';
import type { CompletionRecord, ErrorRecord, RunIdentity } from '../events/types.js';

export const MARKER_NAME = 'pg-basebackup-status.json';
export const MARKER_TMP_NAME = `${MARKER_NAME}.tmp`;
export const MARKER_FORMAT_VERSION = 1;

export type InProgressRecord = RunIdentity & { status: 'in progress' };
export type FailedRecord = RunIdentity & { status: 'failed'; finished_at: string; error: Pick<ErrorRecord, 'code' | 'message' | 'sqlstate'> };
export type MarkerRecord = InProgressRecord | CompletionRecord | FailedRecord;

export class CompletionMarker {
  private constructor(
    readonly directory: string,
    private readonly fileMode: number,
    private readonly sync: boolean,
  ) {}

  /** Write the "in progress" marker into `directory`. */
  static begin(directory: string, identity: RunIdentity, opts: { fileMode: number; noSync: boolean }): CompletionMarker {
    const m = new CompletionMarker(directory, opts.fileMode, !opts.noSync);
    m.write({ status: 'in progress', ...identity });
    return m;
  }

  get path(): string {
    return join(this.directory, MARKER_NAME);
  }

  complete(record: CompletionRecord): void {
    this.write(record);
  }

  fail(identity: RunIdentity, error: ErrorRecord, finishedAt: string): void {
    this.write({
      status: 'failed',
      ...identity,
      finished_at: finishedAt,
      error: { code: error.code, message: error.message, sqlstate: error.sqlstate },
    });
  }

  /** tmp file → fsync → rename → fsync the directory (no fsync with -N). */
  private write(record: MarkerRecord): void {
    // "status" first, whatever the record's own key order.
    const { status, ...rest } = record;
    const text = `${JSON.stringify({ status, ...rest }, null, 2)}\n`;
    const tmp = join(this.directory, MARKER_TMP_NAME);
    const final = this.path;
    let fd: number;
    try {
      fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, this.fileMode);
    } catch (e) {
      throw new FileError(`could not create file "${tmp}": ${strerror(e)}`, tmp, { cause: e });
    }
    try {
      const data = Buffer.from(text, 'utf8');
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done, data.length - done);
      if (this.sync) fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw new FileError(`could not write file "${tmp}": ${strerror(e)}`, tmp, { cause: e });
    }
    closeSync(fd);
    try {
      renameSync(tmp, final);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new FileError(`could not rename file "${tmp}" to "${final}": ${strerror(e)}`, tmp, { cause: e });
    }
    if (this.sync) fsyncDirectory(this.directory);
  }
}

function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  } catch (e) {
    throw new FileError(`could not open directory "${dir}": ${strerror(e)}`, dir, { cause: e });
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EBADF' && code !== 'EINVAL') throw new FileError(`could not fsync file "${dir}": ${strerror(e)}`, dir, { cause: e });
  } finally {
    closeSync(fd);
  }
}
