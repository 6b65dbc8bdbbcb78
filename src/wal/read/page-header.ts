/**
 * XLogPageHeaderData and XLogLongPageHeaderData (little-endian): magic u16 at 0, info u16 at 2,
 * tli u32 at 4, pageaddr u64 at 8, rem_len u32 at 16; the long header adds sysid u64 at 24,
 * seg_size u32 at 32 and xlog_blcksz u32 at 36.
 */
import type { Lsn } from '../../lsn.js';
import { SIZE_OF_LONG_PHD, SIZE_OF_SHORT_PHD, XLP_LONG_HEADER } from './wal-format.js';

export interface PageHeader {
  magic: number;
  info: number;
  tli: number;
  pageAddr: Lsn;
  remLen: number;
}

export interface LongPageHeader extends PageHeader {
  sysid: bigint;
  segSize: number;
  xlogBlcksz: number;
}

/** Decode the short header fields (the buffer holds at least SIZE_OF_SHORT_PHD bytes). */
export function decodePageHeader(page: Buffer): PageHeader {
  return {
    magic: page.readUInt16LE(0),
    info: page.readUInt16LE(2),
    tli: page.readUInt32LE(4),
    pageAddr: page.readBigUInt64LE(8),
    remLen: page.readUInt32LE(16),
  };
}

/** Decode a long header (the buffer holds at least SIZE_OF_LONG_PHD bytes). */
export function decodeLongPageHeader(page: Buffer): LongPageHeader {
  return {
    ...decodePageHeader(page),
    sysid: page.readBigUInt64LE(24),
    segSize: page.readUInt32LE(32),
    xlogBlcksz: page.readUInt32LE(36),
  };
}

/** XLogPageHeaderSize: the size of the header a page starts with, from its info bits. */
export function pageHeaderSize(info: number): number {
  return (info & XLP_LONG_HEADER) !== 0 ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
}
