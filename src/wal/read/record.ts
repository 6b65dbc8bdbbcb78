/**
 * XLogRecord headers and the checks a WAL reader makes on each record (xlogreader.c's
 * ValidXLogRecordHeader, ValidXLogRecord and the fragment-header checks of DecodeXLogRecord), with
 * pg 18's message texts.
 *
 * Layout (little-endian): xl_tot_len u32 at 0, xl_xid u32 at 4, xl_prev u64 at 8, xl_info u8 at 16,
 * xl_rmid u8 at 17, two pad bytes, xl_crc u32 at 20; then the fragment headers and their data.
 */
import { formatLsn, type Lsn } from '../../lsn.js';
import { crc32c, crc32cFinish, CRC32C_INIT } from '../../manifest/checksum.js';
import {
  RM_MAX_BUILTIN_ID,
  RM_MAX_CUSTOM_ID,
  RM_MIN_CUSTOM_ID,
  SIZE_OF_XLOG_RECORD,
  XL_CRC_OFFSET,
  type WalFormat,
} from './wal-format.js';

export interface RecordHeader {
  totLen: number;
  xid: number;
  prev: Lsn;
  info: number;
  rmid: number;
  crc: number;
}

export function decodeRecordHeader(buf: Buffer, at = 0): RecordHeader {
  return {
    totLen: buf.readUInt32LE(at),
    xid: buf.readUInt32LE(at + 4),
    prev: buf.readBigUInt64LE(at + 8),
    info: buf.readUInt8(at + 16),
    rmid: buf.readUInt8(at + 17),
    crc: buf.readUInt32LE(at + 20),
  };
}

/** RmgrIdIsValid of the format's major. */
export function rmgrIdIsValid(rmid: number, format: WalFormat): boolean {
  if (rmid <= RM_MAX_BUILTIN_ID) return true;
  return format.customRmgrs && rmid >= RM_MIN_CUSTOM_ID && rmid <= RM_MAX_CUSTOM_ID;
}

/**
 * The header checks: length, resource manager, and the prev-link (exact when reading on from the
 * previous record, only "before this record" after a jump).  Returns pg's message, or undefined.
 */
export function checkRecordHeader(
  rec: RecordHeader,
  recPtr: Lsn,
  prevRecPtr: Lsn,
  randAccess: boolean,
  format: WalFormat,
): string | undefined {
  if (rec.totLen < SIZE_OF_XLOG_RECORD) {
    return `invalid record length at ${formatLsn(recPtr)}: expected at least ${SIZE_OF_XLOG_RECORD}, got ${rec.totLen}`;
  }
  if (!rmgrIdIsValid(rec.rmid, format)) return `invalid resource manager ID ${rec.rmid} at ${formatLsn(recPtr)}`;
  if (randAccess ? !(rec.prev < recPtr) : rec.prev !== prevRecPtr) {
    return `record with incorrect prev-link ${formatLsn(rec.prev)} at ${formatLsn(recPtr)}`;
  }
  return undefined;
}

/** CRC-32C of a whole record: its data after the header first, then the header up to xl_crc. */
export function recordCrcMatches(record: Buffer): boolean {
  let c = crc32c(CRC32C_INIT, record.subarray(SIZE_OF_XLOG_RECORD));
  c = crc32c(c, record.subarray(0, XL_CRC_OFFSET));
  return crc32cFinish(c) === record.readUInt32LE(XL_CRC_OFFSET);
}

const XLR_MAX_BLOCK_ID = 32;
const XLR_BLOCK_ID_DATA_SHORT = 255;
const XLR_BLOCK_ID_DATA_LONG = 254;
const XLR_BLOCK_ID_ORIGIN = 253;
const XLR_BLOCK_ID_TOPLEVEL_XID = 252;
const BKPBLOCK_HAS_IMAGE = 0x10;
const BKPBLOCK_HAS_DATA = 0x20;
const BKPBLOCK_SAME_REL = 0x80;
const BKPIMAGE_HAS_HOLE = 0x01;
const BLCKSZ = 8192;
/** sizeof(RelFileLocator): three Oids. */
const REL_FILE_LOCATOR_SIZE = 12;

class ShortData extends Error {}

/**
 * The fragment headers of a record whose CRC matched: block references, origin, top-level xid and the
 * main data header, with their cross-checks; the payload lengths must add up to the record's length.
 * `readRecPtr` is the LSN pg names in these messages: that of the record read BEFORE this one.
 * Returns pg's message, or undefined when the record decodes.
 */
export function checkRecordFragments(record: Buffer, format: WalFormat, readRecPtr: Lsn): string | undefined {
  // Formatted only when a message needs it (this runs for every record).
  const at = { toString: () => formatLsn(readRecPtr) };
  let pos = SIZE_OF_XLOG_RECORD;
  let remaining = record.readUInt32LE(0) - SIZE_OF_XLOG_RECORD;
  const take = (n: number): number => {
    if (remaining < n) throw new ShortData();
    const v = n === 1 ? record.readUInt8(pos) : n === 2 ? record.readUInt16LE(pos) : record.readUInt32LE(pos);
    pos += n;
    remaining -= n;
    return v;
  };
  const skip = (n: number): void => {
    if (remaining < n) throw new ShortData();
    pos += n;
    remaining -= n;
  };
  const compressed = (bimgInfo: number): boolean =>
    format.bkpimageFlags15 ? (bimgInfo & 0x1c) !== 0 : (bimgInfo & 0x02) !== 0;
  const compressedName = format.bkpimageFlags15 ? 'BKPIMAGE_COMPRESSED' : 'BKPIMAGE_IS_COMPRESSED';
  let datatotal = 0;
  let maxBlockId = -1;
  let haveRel = false;
  try {
    while (remaining > datatotal) {
      const blockId = take(1);
      if (blockId === XLR_BLOCK_ID_DATA_SHORT) {
        datatotal = (datatotal + take(1)) >>> 0;
        break;
      } else if (blockId === XLR_BLOCK_ID_DATA_LONG) {
        datatotal = (datatotal + take(4)) >>> 0;
        break;
      } else if (blockId === XLR_BLOCK_ID_ORIGIN) {
        skip(2);
      } else if (blockId === XLR_BLOCK_ID_TOPLEVEL_XID && format.topLevelXidBlock) {
        skip(4);
      } else if (blockId <= XLR_MAX_BLOCK_ID) {
        if (blockId <= maxBlockId) return `out-of-order block_id ${blockId} at ${at}`;
        maxBlockId = blockId;
        const forkFlags = take(1);
        const hasImage = (forkFlags & BKPBLOCK_HAS_IMAGE) !== 0;
        const hasData = (forkFlags & BKPBLOCK_HAS_DATA) !== 0;
        const dataLen = take(2);
        if (hasData && dataLen === 0) return `BKPBLOCK_HAS_DATA set, but no data included at ${at}`;
        if (!hasData && dataLen !== 0) return `BKPBLOCK_HAS_DATA not set, but data length is ${dataLen} at ${at}`;
        datatotal = (datatotal + dataLen) >>> 0;
        if (hasImage) {
          const bimgLen = take(2);
          const holeOffset = take(2);
          const bimgInfo = take(1);
          let holeLength: number;
          if (compressed(bimgInfo)) holeLength = (bimgInfo & BKPIMAGE_HAS_HOLE) !== 0 ? take(2) : 0;
          else holeLength = (BLCKSZ - bimgLen) & 0xffff;
          datatotal = (datatotal + bimgLen) >>> 0;
          const hasHole = (bimgInfo & BKPIMAGE_HAS_HOLE) !== 0;
          if (hasHole && (holeOffset === 0 || holeLength === 0 || bimgLen === BLCKSZ)) {
            return `BKPIMAGE_HAS_HOLE set, but hole offset ${holeOffset} length ${holeLength} block image length ${bimgLen} at ${at}`;
          }
          if (!hasHole && (holeOffset !== 0 || holeLength !== 0)) {
            return `BKPIMAGE_HAS_HOLE not set, but hole offset ${holeOffset} length ${holeLength} at ${at}`;
          }
          if (compressed(bimgInfo) && bimgLen === BLCKSZ) {
            return `${compressedName} set, but block image length ${bimgLen} at ${at}`;
          }
          if (!hasHole && !compressed(bimgInfo) && bimgLen !== BLCKSZ) {
            // pg prints the block's data length here, not the image length.
            return `neither BKPIMAGE_HAS_HOLE nor ${compressedName} set, but block image length is ${dataLen} at ${at}`;
          }
        }
        if ((forkFlags & BKPBLOCK_SAME_REL) === 0) {
          skip(REL_FILE_LOCATOR_SIZE);
          haveRel = true;
        } else if (!haveRel) {
          return `BKPBLOCK_SAME_REL set but no previous rel at ${at}`;
        }
        skip(4);
      } else {
        return `invalid block_id ${blockId} at ${at}`;
      }
    }
    if (remaining !== datatotal) throw new ShortData();
  } catch (e) {
    if (e instanceof ShortData) return `record with invalid length at ${at}`;
    throw e;
  }
  return undefined;
}
