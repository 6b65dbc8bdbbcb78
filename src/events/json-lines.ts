/**
 * `--json-events=DEST`: events as newline-delimited JSON, one object per line, written synchronously
 * (so lines never interleave with pg's messages mid-line and nothing is lost at exit).
 *
 * DEST is `stderr`, `fd:N` (an inherited file descriptor, e.g. `3>events.ndjson` in a shell), or a
 * file path (created if missing, appended to).  A destination that fails while writing (closed pipe,
 * full disk) is dropped after one warning: the backup goes on.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { FileError, strerror, UsageError } from '../errors.js';
import type { BackupEvent } from './types.js';

export type JsonEventsDestination = { kind: 'fd'; fd: number; name: string } | { kind: 'file'; path: string; name: string };

const FD_PATTERN = /^fd:([0-9]+)$/;
const EAGAIN_RETRIES = 2000;

/** Parse DEST; throws UsageError for an empty one or a malformed `fd:`. */
export function parseJsonEventsDestination(arg: string): JsonEventsDestination {
  if (arg === '') throw new UsageError('invalid --json-events destination ""', { hint: true });
  if (arg === 'stderr') return { kind: 'fd', fd: 2, name: arg };
  const m = FD_PATTERN.exec(arg);
  if (m) {
    const fd = Number(m[1]);
    if (!Number.isSafeInteger(fd) || fd > 2147483647) throw new UsageError(`invalid --json-events destination "${arg}"`, { hint: true });
    return { kind: 'fd', fd, name: arg };
  }
  if (arg.startsWith('fd:')) throw new UsageError(`invalid --json-events destination "${arg}"`, { hint: true });
  return { kind: 'file', path: arg, name: arg };
}

export class JsonLinesSink {
  private failed = false;

  private constructor(
    private fd: number,
    private readonly owned: boolean,
    private readonly name: string,
    private readonly onFailure: (message: string) => void,
  ) {}

  /** Open the destination; throws FileError (exit 1) when it cannot be used. */
  static open(dest: JsonEventsDestination, onFailure: (message: string) => void): JsonLinesSink {
    if (dest.kind === 'fd') {
      try {
        fstatSync(dest.fd);
      } catch (e) {
        throw new FileError(`could not use --json-events destination "${dest.name}": ${strerror(e)}`, undefined, { cause: e });
      }
      return new JsonLinesSink(dest.fd, false, dest.name, onFailure);
    }
    let fd: number;
    try {
      fd = openSync(dest.path, 'a');
    } catch (e) {
      throw new FileError(`could not open file "${dest.path}": ${strerror(e)}`, dest.path, { cause: e });
    }
    return new JsonLinesSink(fd, true, dest.name, onFailure);
  }

  write(event: BackupEvent): void {
    if (this.failed) return;
    const data = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    let done = 0;
    let retries = 0;
    try {
      while (done < data.length) {
        try {
          done += writeSync(this.fd, data, done, data.length - done);
        } catch (e) {
          // A non-blocking pipe that is full: wait a little and retry.
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || ++retries > EAGAIN_RETRIES) throw e;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        }
      }
    } catch (e) {
      this.failed = true;
      this.onFailure(`could not write JSON events to "${this.name}": ${strerror(e)}`);
    }
  }

  close(): void {
    if (this.owned && this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // nothing left to report to
      }
      this.fd = -1;
    }
  }
}
