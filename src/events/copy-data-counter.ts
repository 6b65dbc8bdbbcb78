/**
 * Counts archive bytes as the BASE_BACKUP response arrives, for progress events: wraps the query's
 * event iterator and reports the payload size of every CopyData 'd' message (after its type byte).
 */
import type { BackendEvent } from '../protocol/types.js';

const ARCHIVE_DATA = 0x64; // 'd'

export function countCopyData(events: AsyncIterator<BackendEvent>, onBytes: (n: number) => void): AsyncIterator<BackendEvent> {
  return {
    async next(): Promise<IteratorResult<BackendEvent>> {
      const r = await events.next();
      if (!r.done && r.value.kind === 'copyData' && r.value.data[0] === ARCHIVE_DATA) onBytes(r.value.data.length - 1);
      return r;
    },
    return: events.return === undefined ? undefined : (v?: unknown) => (events.return as (v?: unknown) => Promise<IteratorResult<BackendEvent>>)(v),
  };
}
