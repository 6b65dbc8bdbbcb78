/**
 * UPLOAD_MANIFEST (PostgreSQL 17+): send the manifest of the prior backup as COPY IN data before an
 * incremental BASE_BACKUP, as pg_basebackup does for -i/--incremental.  The file is read in chunks of
 * at most 64 KiB, each flushed to the socket before the next is read (memory bounded).
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
    let copyIn = false;
    let done = false;
    try {
      for await (const ev of conn.query('UPLOAD_MANIFEST')) {
        if (ev.kind === 'copyInResponse' && !copyIn) {
          copyIn = true;
          await sendFile(conn, fd, manifestPath);
          conn.sendCopyDone();
        } else if (ev.kind === 'commandComplete') {
          done = true;
        }
      }
    } catch (e) {
      if (e instanceof ServerError) throw e.wrap('could not upload manifest');
      throw e;
    }
    if (!copyIn || !done) throw new PgBasebackupError('PGBB_PROTOCOL', 'could not upload manifest: unexpected status');
  } finally {
    closeSync(fd);
  }
}

async function sendFile(conn: PgConnection, fd: number, path: string): Promise<void> {
  const buf = Buffer.alloc(UPLOAD_CHUNK_BYTES);
  for (;;) {
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
  }
}
