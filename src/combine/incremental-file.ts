/**
 * An INCREMENTAL.<relfile> file of an incremental backup (src/backend/backup/basebackup_incremental.c
 * writes it, reconstruct.c reads it): uint32 magic 0xd3ae1f0d, block count N, truncation block length,
 * then N block numbers relative to the segment, all in the server's byte order (little-endian here);
 * when N > 0 the header is padded with zeros to a multiple of BLCKSZ and N blocks follow.
 */
import { closeSync } from 'node:fs';
import { FileError } from '../errors.js';
import { fileError, openForRead, openForReadIfExists, preadFully } from './files.js';

export const INCREMENTAL_MAGIC = 0xd3ae1f0d;
export const INCREMENTAL_PREFIX = 'INCREMENTAL.';

/** A file of the chain used as a source of blocks: a full file (headerLength 0) or an incremental one. */
export interface SourceFile {
  filename: string;
  fd: number;
  /** 0 for a full file. */
  headerLength: number;
  numBlocks: number;
  /** Block numbers relative to the segment, as listed (ascending). */
  blockNumbers: Uint32Array;
  truncationBlockLength: number;
  /** Accounting for the debug output and the dry-run length check. */
  numBlocksRead: number;
  highestOffsetRead: number;
}

/** make_rfile(): open a full file; undefined when missingOk and it does not exist. */
export function openFullSource(filename: string, missingOk: boolean): SourceFile | undefined {
  const fd = missingOk ? openForReadIfExists(filename) : openForRead(filename);
  if (fd === undefined) return undefined;
  return { filename, fd, headerLength: 0, numBlocks: 0, blockNumbers: new Uint32Array(0), truncationBlockLength: 0, numBlocksRead: 0, highestOffsetRead: 0 };
}

/** make_incremental_rfile(): open and read the header, with pg's checks against RELSEG_SIZE. */
export function openIncrementalSource(filename: string, blcksz: number, relsegSize: number): SourceFile {
  const fd = openForRead(filename);
  let position = 0;
  const readBytes = (length: number): Buffer => {
    const buf = Buffer.alloc(length);
    let n: number;
    try {
      n = preadFully(fd, buf, 0, length, position);
    } catch (e) {
      throw fileError(`could not read file "${filename}"`, filename, e);
    }
    if (n !== length) throw new FileError(`could not read file "${filename}": read ${n} of ${length}`, filename);
    position += length;
    return buf;
  };
  const src: SourceFile = { filename, fd, headerLength: 0, numBlocks: 0, blockNumbers: new Uint32Array(0), truncationBlockLength: 0, numBlocksRead: 0, highestOffsetRead: 0 };
  try {
    const magic = readBytes(4).readUInt32LE(0);
    if (magic !== INCREMENTAL_MAGIC) {
      throw new FileError(`file "${filename}" has bad incremental magic number (0x${magic.toString(16)}, expected 0x${INCREMENTAL_MAGIC.toString(16)})`, filename);
    }
    src.numBlocks = readBytes(4).readUInt32LE(0);
    if (src.numBlocks > relsegSize) {
      throw new FileError(`file "${filename}" has block count ${src.numBlocks} in excess of segment size ${relsegSize}`, filename);
    }
    src.truncationBlockLength = readBytes(4).readUInt32LE(0);
    if (src.truncationBlockLength > relsegSize) {
      throw new FileError(`file "${filename}" has truncation block length ${src.truncationBlockLength} in excess of segment size ${relsegSize}`, filename);
    }
    if (src.numBlocks > 0) {
      const raw = readBytes(4 * src.numBlocks);
      src.blockNumbers = new Uint32Array(src.numBlocks);
      for (let i = 0; i < src.numBlocks; i++) src.blockNumbers[i] = raw.readUInt32LE(4 * i);
    }
    let header = 12 + 4 * src.numBlocks;
    if (src.numBlocks > 0 && header % blcksz !== 0) header += blcksz - (header % blcksz);
    src.headerLength = header;
    return src;
  } catch (e) {
    closeQuietly(fd);
    throw e;
  }
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* failing already */
  }
}
