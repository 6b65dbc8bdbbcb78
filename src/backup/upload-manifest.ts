/**
 * UPLOAD_MANIFEST (PostgreSQL 17+): send the manifest of the prior backup as COPY IN data before an
 * incremental BASE_BACKUP, as pg_basebackup does for -i/--incremental.  The file is read in chunks of
 * at most 64 KiB, each flushed to the socket before the next is read (memory bounded), with a turn of
 * the event loop between chunks so that an early answer of the server is seen.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { FileError, PgBasebackupError, ServerError, strerror } from '../errors.js';
import type { PgConnection } from '../protocol/connection.js';

export const UPLOAD_CHUNK_BYTES = 65536;

export async function uploadManifest(conn: PgConnection, manifestPath: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(manifestPath, 'r');
  } catch (e) {
    throw new FileError(`could not open file "${manifestPath}": ${strerror(e)}`, manifestPath, { cause: e });
  }
  try {
    const it = conn.query('UPLOAD_MANIFEST')[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      if (first.done || first.value.kind !== 'copyInResponse') {
        if (!first.done) await it.return?.();
        throw new PgBasebackupError('PGBB_PROTOCOL', 'could not upload manifest: unexpected status');
      }
      // The server parses the manifest while it arrives and may answer with an ErrorResponse before the
      // upload ends (wrong system identifier, version 1, bad JSON): read the socket while sending, so
      // that the error is reported at once.
      let answer: unknown;
      let answered = false;
      const reply = it.next().then(
        (r) => {
          answered = true;
          return r;
        },
        (e: unknown) => {
          answered = true;
          answer = e;
          return undefined;
        },
      );
      await sendFile(conn, fd, manifestPath, () => answered);
      if (answer !== undefined) throw answer;
      if (!answered) conn.sendCopyDone();
      let r = await reply;
      if (answer !== undefined) throw answer;
      let done = false;
      while (r !== undefined && !r.done) {
        if (r.value.kind === 'commandComplete') done = true;
        r = await it.next();
      }
      if (!done) throw new PgBasebackupError('PGBB_PROTOCOL', 'could not upload manifest: unexpected status');
    } catch (e) {
      if (e instanceof ServerError) throw e.wrap('could not upload manifest');
      throw e;
    }
  } finally {
    closeSync(fd);
  }
}

async function sendFile(conn: PgConnection, fd: number, path: string, stop: () => boolean): Promise<void> {
  const buf = Buffer.alloc(UPLOAD_CHUNK_BYTES);
  for (;;) {
    if (stop()) return;
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      conn.sendCopyFail('could not read manifest');
      throw new FileError(`could not read file "${path}": ${strerror(e)}`, path, { cause: e });
    }
    if (n === 0) return;
    if (!conn.sendCopyData(Buffer.from(buf.subarray(0, n)))) return;
    await conn.flush();
    // flush() resolves at once while the socket takes everything (a server that discards CopyData
    // after its error does): give the event loop a turn so that the server's answer is read.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
