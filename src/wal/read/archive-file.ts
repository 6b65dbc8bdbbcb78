/**
 * Reading a tar archive file, possibly compressed, through the archive chain: file -> decompressor ->
 * tar parser -> a MemberSink, in 128 kB reads (pg_verifybackup's READ_CHUNK_SIZE), waiting whenever the
 * sink asks to.  Memory is bounded by the chain's buffers.  The reads are synchronous (an asynchronous
 * read costs a round trip through libuv's thread pool per 128 kB), into one reused buffer when the
 * chain's head takes its input in place (keeps nothing of it), else into a fresh one per read.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createDecompressor, type CompressionAlgorithm } from '../../compression/compression.js';
import { abortQuietly, type MemberSink } from '../../archive/streamer.js';
import { TarParserStage } from '../../archive/tar-parser.js';

export const READ_CHUNK_SIZE = 128 * 1024;

export interface PumpOptions {
  /** Called after each read with the number of (compressed) bytes read. */
  onRead?: (bytes: number) => void;
  /** Stop early (without error) once this returns true. */
  stopped?: () => boolean;
}

/**
 * Stream the archive at `path` into `sink`.  Open and read failures are thrown as the system error
 * (the caller words them); a failure of the chain (bad compressed data, a truncated archive) is thrown
 * as the chain's error.
 */
export async function pumpArchiveFile(
  path: string,
  compression: CompressionAlgorithm,
  sink: MemberSink,
  options: PumpOptions = {},
): Promise<void> {
  const fd = openSync(path, 'r');
  const head = createDecompressor(compression, new TarParserStage(sink));
  const reused = head.inPlace === true ? Buffer.allocUnsafe(READ_CHUNK_SIZE) : undefined;
  try {
    for (;;) {
      if (options.stopped?.() === true) {
        await abortQuietly(head);
        return;
      }
      const buf = reused ?? Buffer.allocUnsafe(READ_CHUNK_SIZE);
      const bytesRead = readSync(fd, buf, 0, READ_CHUNK_SIZE, null);
      if (bytesRead === 0) break;
      const w = head.write(buf.subarray(0, bytesRead));
      if (w !== undefined) await w;
      options.onRead?.(bytesRead);
    }
    await head.finish();
  } catch (e) {
    await abortQuietly(head, e);
    throw e;
  } finally {
    closeSync(fd);
  }
}
