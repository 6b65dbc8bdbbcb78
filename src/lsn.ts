/**
 * Log sequence numbers (XLogRecPtr) and WAL segment arithmetic.
 *
 * An Lsn is an unsigned 64-bit byte position in the WAL, held as a bigint.  Text form is "%X/%X"
 * (PostgreSQL 19 prints "%X/%08X"; both parse).
 */

export type Lsn = bigint;
export type TimeLineId = number;

export const INVALID_LSN: Lsn = 0n;
const MAX_LSN = (1n << 64n) - 1n;
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parse "X/X"; returns undefined when the text is not an LSN (like pg's sscanf check). */
export function parseLsn(text: string): Lsn | undefined {
  const m = LSN_TEXT.exec(text.trim());
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Format as pg 15-18 do: "%X/%X", upper case, no padding. */
export function formatLsn(lsn: Lsn): string {
  const hi = Number(lsn >> 32n);
  const lo = Number(lsn & 0xffffffffn);
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

export function lsnFromBuffer(buf: Buffer, offset: number): Lsn {
  return buf.readBigUInt64BE(offset);
}

export function checkLsn(lsn: Lsn): Lsn {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN out of range: ${lsn}`);
  return lsn;
}

/** A valid wal_segment_size is a power of two between 1 MB and 1 GB (IsValidWalSegSize). */
export function isValidWalSegSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1024 * 1024 && size <= 1024 * 1024 * 1024 && (size & (size - 1)) === 0;
}

/** XLByteToSeg: the segment number holding lsn. */
export function lsnToSegNo(lsn: Lsn, walSegSize: number): bigint {
  return lsn / BigInt(walSegSize);
}

/** XLogSegmentOffset: offset of lsn within its segment. */
export function segmentOffset(lsn: Lsn, walSegSize: number): number {
  return Number(lsn % BigInt(walSegSize));
}

/** Start of the segment that holds lsn (where -X stream starts). */
export function segmentStart(lsn: Lsn, walSegSize: number): Lsn {
  return lsn - (lsn % BigInt(walSegSize));
}

/** XLogFileName: "%08X%08X%08X" of timeline, segno / segments-per-xlogid, segno % segments-per-xlogid. */
export function walFileName(tli: TimeLineId, segNo: bigint, walSegSize: number): string {
  const perId = 0x100000000n / BigInt(walSegSize);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(tli)}${hex(segNo / perId)}${hex(segNo % perId)}`;
}

/** TLHistoryFileName: "%08X.history". */
export function timelineHistoryFileName(tli: TimeLineId): string {
  return `${tli.toString(16).toUpperCase().padStart(8, '0')}.history`;
}

/** Parse a WAL file name back into timeline and segment number (undefined if not one). */
export function parseWalFileName(name: string, walSegSize: number): { tli: TimeLineId; segNo: bigint } | undefined {
  if (!/^[0-9A-F]{24}$/.test(name)) return undefined;
  const perId = 0x100000000n / BigInt(walSegSize);
  const tli = parseInt(name.slice(0, 8), 16);
  const log = BigInt(`0x${name.slice(8, 16)}`);
  const seg = BigInt(`0x${name.slice(16, 24)}`);
  return { tli, segNo: log * perId + seg };
}
