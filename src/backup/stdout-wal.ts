/**
 * Beyond pg, `-Ft -D - -X stream`: the streamed WAL must go into the archive on standard output
 * before its manifest and trailer, but the end LSN that tells the receiver where to stop arrives only
 * after the COPY stream (result set 3).  So when the archive is about to end (after CopyDone), this
 * hook reads result set 3 itself, waits for the receiver to reach the end position, and appends the
 * spooled WAL; the backup then takes the end position from the same one-shot reader.
 */
import type { StreamInjectTarget } from '../archive/create-chain.js';
import { abortable } from './abort.js';
import type { BackupResponseReader } from './backup-response.js';
import type { WalStreamHandle } from './wal-streaming.js';

export type EndPosition = Awaited<ReturnType<BackupResponseReader['readEndPosition']>>;

/** Result set 3, read once by whoever asks first; `onRead` runs once when it arrives. */
export function endPositionOnce(reader: BackupResponseReader, onRead: (end: EndPosition) => void): () => Promise<EndPosition> {
  let end: Promise<EndPosition> | undefined;
  return () => {
    end ??= reader.readEndPosition().then((e) => {
      onRead(e);
      return e;
    });
    return end;
  };
}

/**
 * The hook for createArchiveChain's beforeArchiveEnd: end position → receiver finished (`waiting`
 * runs first, for pg's verbose message) → spooled files appended → spool removed.  The wait for the
 * receiver gives up when `signal` fires, as the backup's own wait does.
 */
export function appendStreamedWal(
  wal: WalStreamHandle,
  endPosition: () => Promise<EndPosition>,
  waiting: () => void,
  signal?: AbortSignal,
): (archive: StreamInjectTarget) => Promise<void> {
  return async (archive) => {
    const spool = wal.spool;
    if (spool === undefined) return;
    try {
      const end = await endPosition();
      waiting();
      await abortable(wal.finish(end.endLsn), signal);
      await spool.injectInto(archive);
    } finally {
      spool.remove();
    }
  };
}
