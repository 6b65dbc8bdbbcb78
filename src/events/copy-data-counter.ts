/**
 * Counts archive bytes as the BASE_BACKUP response arrives, for progress events: wraps the query's
 * event iterator and reports the payload size of every CopyData 'd' message (after its type byte).
 * Once `signal` has fired it yields nothing more (messages already queued are not processed).
 */
import { throwIfAborted } from '../backup/abort.js';
import type { BackendEvent, BackendEventSource, CopyDataHandler } from '../protocol/types.js';

const ARCHIVE_DATA = 0x64; // 'd'

export function countCopyData(events: BackendEventSource, onBytes: (n: number) => void, signal?: AbortSignal): BackendEventSource {
  const pump = events.pumpCopyData?.bind(events);
  return {
    pumpCopyData:
      pump === undefined
        ? undefined
        : (onData: CopyDataHandler) => {
            throwIfAborted(signal);
            return pump((data, transient) => {
              throwIfAborted(signal);
              if (data[0] === ARCHIVE_DATA) onBytes(data.length - 1);
              return onData(data, transient);
            });
          },
    async next(): Promise<IteratorResult<BackendEvent>> {
      throwIfAborted(signal);
      const r = await events.next();
      if (!r.done && r.value.kind === 'copyData' && r.value.data[0] === ARCHIVE_DATA) onBytes(r.value.data.length - 1);
      return r;
    },
    return: events.return === undefined ? undefined : (v?: unknown) => (events.return as (v?: unknown) => Promise<IteratorResult<BackendEvent>>)(v),
  };
}
