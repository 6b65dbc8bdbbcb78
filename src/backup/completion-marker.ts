/**
 * The completion marker (beyond pg): a JSON file BESIDE the target directory telling scripts whether
 * the backup there is complete.  For `-D /backups/b1` it is `/backups/b1.pg-basebackup-status.json`
 * (statusFileFor(): derived from the target path alone), so the target holds exactly what
 * pg_basebackup writes and PostgreSQL's own tools (pg_verifybackup, pg_combinebackup) accept it.
 * `--status-file=PATH` puts it elsewhere (also for `-D -` and `-t`, which have none by default);
 * `--no-status-file` writes none.
 *
 * - Written with status "in progress" as soon as the target directory is verified or created, before
 *   any data arrives (an explicit --status-file: before connecting, so that failing to write it stops
 *   the run before anything is created);
 * - replaced at the very end, after every fsync and the manifest rename, by the final record
 *   (status "complete", LSNs, WAL range, tablespaces ...);
 * - after any failure, status "failed" with the error (code, message, sqlstate), also when cleanup
 *   removed the directory: the marker is not inside it.
 *
 * Every write replaces the file atomically and never follows a symlink: `<marker>.tmp` (beside it) is
 * unlinked, created anew with O_EXCL|O_NOFOLLOW, written, fsynced, renamed over the marker (rename
 * replaces whatever object is there, never writing through it), and the directory fsynced (with -N:
 * no fsync).  src/backup/marker-state.ts reads it back.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, constants as fsConstants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FileError, strerror } from '../errors.js';
import { replaceFile } from '../fs/create-file.js';
import type { CompletionRecord, ErrorRecord, RunIdentity } from '../events/types.js';

/** Where earlier versions wrote the marker: inside the target.  Still dropped from plain extractions. */
export const MARKER_NAME = 'pg-basebackup-status.json';
export const MARKER_TMP_NAME = `${MARKER_NAME}.tmp`;
/** The marker beside the target: `<target>` + this suffix. */
export const STATUS_FILE_SUFFIX = '.pg-basebackup-status.json';
export const MARKER_FORMAT_VERSION = 1;

/** The default marker of a target directory: a sibling named after it (`/backups/b1` → `/backups/b1.pg-basebackup-status.json`). */
export function statusFileFor(target: string): string {
  const abs = resolve(target);
  return join(dirname(abs), `${basename(abs)}${STATUS_FILE_SUFFIX}`);
}

export type InProgressRecord = RunIdentity & { status: 'in progress' };
export type FailedRecord = RunIdentity & { status: 'failed'; finished_at: string; error: Pick<ErrorRecord, 'code' | 'message' | 'sqlstate'> };
export type MarkerRecord = InProgressRecord | CompletionRecord | FailedRecord;

export class CompletionMarker {
  private constructor(
    /** The marker file. */
    readonly path: string,
    private fileMode: number,
    private readonly sync: boolean,
  ) {}

  /** Write the "in progress" marker at `path`. */
  static begin(path: string, identity: RunIdentity, opts: { fileMode: number; noSync: boolean }): CompletionMarker {
    const m = new CompletionMarker(resolve(path), opts.fileMode, !opts.noSync);
    m.write({ status: 'in progress', ...identity });
    return m;
  }

  /** Rewrite the "in progress" record (the identity learnt more: the target's real path, the server). */
  update(identity: RunIdentity, fileMode?: number): void {
    if (fileMode !== undefined) this.fileMode = fileMode;
    this.write({ status: 'in progress', ...identity });
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

  /** Write another command's record (pg_combinebackup's marker) with the same atomic replace. */
  static writeRecord(path: string, record: { status: string } & Record<string, unknown>, opts: { fileMode: number; noSync: boolean }): void {
    new CompletionMarker(resolve(path), opts.fileMode, !opts.noSync).write(record as unknown as MarkerRecord);
  }

  /** tmp file → fsync → rename → fsync the directory (no fsync with -N). */
  private write(record: MarkerRecord): void {
    // "status" first, whatever the record's own key order.
    const { status, ...rest } = record;
    const text = `${JSON.stringify({ status, ...rest }, null, 2)}\n`;
    const final = this.path;
    const tmp = `${final}.tmp`;
    let fd: number;
    try {
      // Whatever is at the tmp path (a symlink planted there, a leftover of a killed run) goes first;
      // O_EXCL|O_NOFOLLOW then creates a new file or fails, never writing through another object.
      fd = replaceFile(tmp, this.fileMode);
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
    if (this.sync) fsyncDirectory(dirname(final));
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
