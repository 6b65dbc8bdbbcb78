/**
 * On-disk facts of WAL as servers 13 to 18 write it (src/include/access/xlog_internal.h,
 * xlogrecord.h, rmgrlist.h of each major): page and record header sizes, page flags, and the
 * per-major differences a reader must know: the page magic (XLOG_PAGE_MAGIC), whether custom resource
 * managers exist (15+), whether block id 252 carries a top-level xid (14+), and the meaning of the
 * full-page-image flag bits (changed in 15).
 */

/** XLOG_BLCKSZ: every server built with default options, which is all this reader supports. */
export const XLOG_BLCKSZ = 8192;
/** SizeOfXLogShortPHD / SizeOfXLogLongPHD (MAXALIGNed). */
export const SIZE_OF_SHORT_PHD = 24;
export const SIZE_OF_LONG_PHD = 40;
/** SizeOfXLogRecord: offsetof(XLogRecord, xl_crc) + 4. */
export const SIZE_OF_XLOG_RECORD = 24;
export const XL_CRC_OFFSET = 20;

export const XLP_FIRST_IS_CONTRECORD = 0x0001;
export const XLP_LONG_HEADER = 0x0002;
export const XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
export const XLP_ALL_FLAGS = 0x000f;

/** RM_XLOG_ID and its XLOG_SWITCH record (the rest of the segment is skipped). */
export const RM_XLOG_ID = 0;
export const XLOG_SWITCH = 0x40;
export const XLR_RMGR_INFO_MASK = 0xf0;

/** Built-in resource managers: XLOG .. LOGICALMSG, the same 22 in 13-18. */
export const RM_MAX_BUILTIN_ID = 21;
export const RM_MIN_CUSTOM_ID = 128;
export const RM_MAX_CUSTOM_ID = 255;

/** Page magic per major, checked against each release's xlog_internal.h. */
export const XLOG_PAGE_MAGIC_BY_MAJOR: Readonly<Record<number, number>> = {
  13: 0xd106,
  14: 0xd10d,
  15: 0xd110,
  16: 0xd113,
  17: 0xd116,
  18: 0xd118,
};

export interface WalFormat {
  major: number;
  pageMagic: number;
  /** RmgrIdIsValid accepts 128..255 (15+); before, only the built-in ids. */
  customRmgrs: boolean;
  /** XLR_BLOCK_ID_TOPLEVEL_XID (252) exists (14+). */
  topLevelXidBlock: boolean;
  /** Full-page-image flags of 15+ (HAS_HOLE 1, APPLY 2, compressed = 0x04|0x08|0x10); else 13/14's (HAS_HOLE 1, IS_COMPRESSED 2, APPLY 4). */
  bkpimageFlags15: boolean;
}

/** The WAL format of a major (13..18), or undefined. */
export function walFormatOfMajor(major: number): WalFormat | undefined {
  const pageMagic = XLOG_PAGE_MAGIC_BY_MAJOR[major];
  if (pageMagic === undefined) return undefined;
  return { major, pageMagic, customRmgrs: major >= 15, topLevelXidBlock: major >= 14, bkpimageFlags15: major >= 15 };
}

/** The WAL format whose pages carry `magic`, or undefined when no supported major writes it. */
export function walFormatOfMagic(magic: number): WalFormat | undefined {
  for (const [major, m] of Object.entries(XLOG_PAGE_MAGIC_BY_MAJOR)) {
    if (m === magic) return walFormatOfMajor(Number(major));
  }
  return undefined;
}

/** The major of a PG_VERSION file's contents ("18\n"), or undefined. */
export function majorOfPgVersion(text: string): number | undefined {
  const m = /^(\d+)/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}

/** MAXALIGN for 8-byte alignment, on a number. */
export function maxAlign(n: number): number {
  return n + ((8 - (n % 8)) % 8);
}

/** IsXLogFileName: 24 upper-case hex digits. */
export function isXLogFileName(name: string): boolean {
  return /^[0-9A-F]{24}$/.test(name);
}
