/**
 * WAL segments in a directory, found the way pg_waldump --path=DIR finds them: DIR must open as a
 * directory; the first file (in directory order) with a WAL file name, in DIR or else in DIR/pg_wal,
 * gives the segment size from its long page header.
 */
import { opendirSync, type Dir } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { strerror } from '../../errors.js';
import { isValidWalSegSize } from '../../lsn.js';
import { WalReadFatal, type WalSegmentFile, type WalSegmentSource } from './segment-source.js';
import { isXLogFileName, XLOG_BLCKSZ } from './wal-format.js';

const HELP_HINT = 'Try "pg_waldump --help" for more information.';

/** Segment bytes are read ahead in pieces of this size (pages are then served from memory). */
const READ_AHEAD = 1024 * 1024;

class DirSegmentFile implements WalSegmentFile {
  private cache: Buffer = Buffer.alloc(0);
  private cacheStart = 0;

  constructor(private readonly fh: FileHandle) {}

  async read(offset: number, length: number): Promise<Buffer> {
    const from = offset - this.cacheStart;
    if (from >= 0 && from + length <= this.cache.length) return this.cache.subarray(from, from + length);
    this.cache = await this.readAt(offset, Math.max(length, READ_AHEAD));
    this.cacheStart = offset;
    return this.cache.subarray(0, Math.min(length, this.cache.length));
  }

  private async readAt(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    let n = 0;
    while (n < length) {
      const { bytesRead } = await this.fh.read(buf, n, length - n, offset + n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n === length ? buf : buf.subarray(0, n);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

export class DirWalSource implements WalSegmentSource {
  constructor(readonly directory: string) {}

  async open(name: string): Promise<WalSegmentFile | undefined> {
    try {
      return new DirSegmentFile(await open(join(this.directory, name), 'r'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WalReadFatal(`could not open file "${name}": ${strerror(e)}`);
    }
  }

  async close(): Promise<void> {}
}

/** What a WAL location turned out to hold: where the segments are and their size. */
export interface WalLocation {
  source: WalSegmentSource;
  walSegSize: number;
  /** The page magic of the first page of the file that gave the segment size. */
  firstPageMagic: number;
}

function tryOpenDir(path: string): Dir | undefined {
  try {
    return opendirSync(path);
  } catch {
    return undefined;
  }
}

/** The first entry with a WAL file name, in directory order. */
function firstWalFileName(dir: Dir): string | undefined {
  try {
    for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
      if (isXLogFileName(e.name)) return e.name;
    }
    return undefined;
  } finally {
    dir.closeSync();
  }
}

/** The segment size and magic from a WAL file's first page, with pg_waldump's failures. */
export function segmentSizeFromFirstPage(name: string, head: Buffer): { walSegSize: number; magic: number } {
  if (head.length < XLOG_BLCKSZ) throw new WalReadFatal(`could not read file "${name}": read ${head.length} of ${XLOG_BLCKSZ}`);
  const walSegSize = head.readUInt32LE(32);
  if (!isValidWalSegSize(walSegSize)) {
    throw new WalReadFatal(
      `invalid WAL segment size in WAL file "${name}" (${walSegSize} byte${walSegSize === 1 ? '' : 's'})`,
      'The WAL segment size must be a power of two between 1 MB and 1 GB.',
    );
  }
  return { walSegSize, magic: head.readUInt16LE(0) };
}

async function searchDirectory(path: string): Promise<WalLocation | undefined> {
  const dir = tryOpenDir(path);
  if (dir === undefined) return undefined;
  const name = firstWalFileName(dir);
  if (name === undefined) return undefined;
  let fh: FileHandle;
  try {
    fh = await open(join(path, name), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WalReadFatal(`could not open file "${name}": ${strerror(e)}`);
  }
  let head: Buffer;
  try {
    head = await new DirSegmentFile(fh).read(0, XLOG_BLCKSZ).then((b) => Buffer.from(b));
  } catch (e) {
    throw new WalReadFatal(`could not read file "${name}": ${strerror(e)}`);
  } finally {
    await fh.close();
  }
  const { walSegSize, magic } = segmentSizeFromFirstPage(name, head);
  return { source: new DirWalSource(path), walSegSize, firstPageMagic: magic };
}

/** pg_waldump --path=DIR: check DIR, then find the WAL in DIR or DIR/pg_wal. */
export async function openWalDirectory(path: string): Promise<WalLocation> {
  const dir = tryOpenDirWithError(path);
  dir.closeSync();
  const found = (await searchDirectory(path)) ?? (await searchDirectory(`${path}/pg_wal`));
  if (found === undefined) throw new WalReadFatal('could not find any WAL file');
  return found;
}

function tryOpenDirWithError(path: string): Dir {
  try {
    return opendirSync(path);
  } catch (e) {
    throw new WalReadFatal(`could not open directory "${path}": ${strerror(e)}`, undefined, HELP_HINT);
  }
}
