/**
 * A WalWriter (src/wal/wal-writer.ts) that also hands every segment write to the live verifier, so
 * that -X stream's WAL is checked as it is written, without reading it back.
 */
import type { WalSegmentFile, WalWriter } from '../../wal/wal-writer.js';

export type WalSegmentTap = (segment: string, offset: number, data: Buffer) => void | Promise<void>;

export function tapWalWriter(inner: WalWriter, tap: WalSegmentTap): WalWriter {
  return {
    async openSegment(name: string): Promise<WalSegmentFile> {
      const file = await inner.openSegment(name);
      return {
        async write(offset: number, data: Buffer): Promise<void> {
          await file.write(offset, data);
          await tap(name, offset, data);
        },
        close: () => file.close(),
      };
    },
    writeFile: (name, contents) => inner.writeFile(name, contents),
    markDone: (name) => inner.markDone(name),
    finish: () => inner.finish(),
    abort: () => inner.abort(),
  };
}
