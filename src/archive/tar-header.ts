/**
 * ustar headers as PostgreSQL writes and reads them (src/port/tar.c: tarCreateHeader,
 * read_tar_number, tarChecksum; src/fe_utils/astreamer_tar.c: astreamer_tar_header).
 *
 * Layout (offset/length): name 0/100, mode 100/8, uid 108/8, gid 116/8, size 124/12,
 * mtime 136/12, chksum 148/8, typeflag 156/1, linkname 157/100, magic 257/6 "ustar\0",
 * version 263/2 "00", uname 265/32, gname 297/32, devmajor 329/8, devminor 337/8,
 * prefix 345/155 (unused by PostgreSQL).  Numbers are octal with a trailing space, or, when they do
 * not fit, GNU base-256 (0x80 then the value big-endian).
 */
import { ProtocolError } from '../errors.js';
import type { TarMember } from './streamer.js';

export const TAR_BLOCK_SIZE = 512;

const OFFSET_NAME = 0;
const OFFSET_MODE = 100;
const OFFSET_UID = 108;
const OFFSET_GID = 116;
const OFFSET_SIZE = 124;
const OFFSET_MTIME = 136;
const OFFSET_CHECKSUM = 148;
const OFFSET_TYPEFLAG = 156;
const OFFSET_LINKNAME = 157;
const OFFSET_MAGIC = 257;
const OFFSET_VERSION = 263;
const OFFSET_UNAME = 265;
const OFFSET_GNAME = 297;
const OFFSET_DEVMAJOR = 329;
const OFFSET_DEVMINOR = 337;

const LEN_NAME = 100;
const LEN_LINKNAME = 100;

const TYPEFLAG_REGULAR = 0x30; // '0'
const TYPEFLAG_HARDLINK = 0x31; // '1'
const TYPEFLAG_SYMLINK = 0x32; // '2'
const TYPEFLAG_DIRECTORY = 0x35; // '5'
const SPACE = 0x20;
const BASE256_MARKER = 0x80;

/** Number of zero bytes that pad a member of `size` bytes to a block boundary. */
export function tarPaddingBytes(size: number): number {
  const rem = size % TAR_BLOCK_SIZE;
  return rem === 0 ? 0 : TAR_BLOCK_SIZE - rem;
}

/**
 * Read a numeric field like read_tar_number(): base-256 when the first byte is 0x80, else octal
 * digits up to the first non-octal byte.  Values above 2^53 lose precision (callers check).
 */
export function readTarNumber(buf: Buffer, offset: number, len: number): number {
  let result = 0;
  if (buf[offset] === BASE256_MARKER) {
    for (let i = 1; i < len; i++) result = result * 256 + (buf[offset + i] as number);
    return result;
  }
  for (let i = 0; i < len; i++) {
    const c = buf[offset + i] as number;
    if (c < 0x30 || c > 0x37) break;
    result = result * 8 + (c - 0x30);
  }
  return result;
}

/** Write a numeric field like print_tar_number(): octal plus a space, or base-256 if too big. */
export function writeTarNumber(buf: Buffer, offset: number, len: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid tar number ${value}`);
  if (value < 2 ** ((len - 1) * 3)) {
    buf[offset + len - 1] = SPACE;
    const digits = value.toString(8).padStart(len - 1, '0');
    buf.write(digits, offset, len - 1, 'latin1');
  } else {
    buf[offset] = BASE256_MARKER;
    let v = value;
    for (let i = len - 1; i > 0; i--) {
      buf[offset + i] = v % 256;
      v = Math.floor(v / 256);
    }
  }
}

/** tarChecksum(): the sum of all header bytes, the checksum field counted as 8 spaces. */
export function tarChecksum(block: Buffer): number {
  let sum = 8 * SPACE;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) {
    if (i < OFFSET_CHECKSUM || i >= OFFSET_CHECKSUM + 8) sum += block[i] as number;
  }
  return sum;
}

/** tarChecksum() with the bytes read as signed chars (old tar writers); accepted as well. */
function tarChecksumSigned(block: Buffer): number {
  let sum = 8 * SPACE;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) {
    if (i < OFFSET_CHECKSUM || i >= OFFSET_CHECKSUM + 8) sum += block.readInt8(i);
  }
  return sum;
}

/** Types a PostgreSQL server never sends and that are refused (pg would write them as regular files). */
const REFUSED_TYPES: ReadonlyMap<number, string> = new Map([
  [TYPEFLAG_HARDLINK, 'a hard link'],
  [0x33, 'a character device'],
  [0x34, 'a block device'],
  [0x36, 'a FIFO'],
]);

/** A NUL-terminated string field of at most `max` bytes. */
function readCString(buf: Buffer, offset: number, max: number): string {
  let end = offset;
  while (end < offset + max && buf[end] !== 0) end++;
  return buf.toString('utf8', offset, end);
}

/** True if every byte after the first NUL of a string field is NUL (as tarCreateHeader leaves it). */
function zeroAfterString(buf: Buffer, offset: number, max: number): boolean {
  const nul = buf.indexOf(0, offset);
  if (nul === -1 || nul >= offset + max) return true;
  for (let i = nul + 1; i < offset + max; i++) if (buf[i] !== 0) return false;
  return true;
}

/** strlcpy() into a field of `size` bytes: at most size - 1 bytes, NUL-terminated. */
function writeCString(buf: Buffer, offset: number, size: number, value: string): number {
  const bytes = Buffer.from(value, 'utf8');
  const n = Math.min(bytes.length, size - 1);
  bytes.copy(buf, offset, 0, n);
  buf[offset + n] = 0;
  return n;
}

/** True if the block is all zero bytes: the end-of-archive marker. */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Decode a (non-zero) header block the way astreamer_tar_header() does: name, size, mode, uid,
 * gid, type and, for symlinks, the link target.
 *
 * Stricter than PostgreSQL, which reads neither: the header checksum must match (a damaged header
 * means everything after it is misparsed), and hard links, devices and FIFOs are refused (a server
 * only sends files, directories and symlinks; pg would write them as regular files).
 */
export function decodeTarHeader(block: Buffer): TarMember {
  const name = readCString(block, OFFSET_NAME, LEN_NAME);
  const stored = readTarNumber(block, OFFSET_CHECKSUM, 8);
  if (stored !== tarChecksum(block) && stored !== tarChecksumSigned(block)) {
    throw new ProtocolError(`invalid tar header checksum in member "${name}"`, {
      detail: `The header says ${stored.toString(8)}, its bytes sum to ${tarChecksum(block).toString(8)} (octal).`,
    });
  }
  if (name === '') throw new ProtocolError('tar member has empty name');
  if (!zeroAfterString(block, OFFSET_NAME, LEN_NAME)) throw new ProtocolError(`tar member name "${name}" has more bytes after its terminating NUL`);
  const refusedType = REFUSED_TYPES.get(block[OFFSET_TYPEFLAG] as number);
  if (refusedType !== undefined) throw new ProtocolError(`tar member "${name}" is ${refusedType}, which a server never sends`);
  const size = readTarNumber(block, OFFSET_SIZE, 12);
  if (!Number.isSafeInteger(size)) throw new ProtocolError(`tar member "${name}" is too large`);
  const typeflag = block[OFFSET_TYPEFLAG] as number;
  const type: TarMember['type'] =
    typeflag === TYPEFLAG_DIRECTORY ? 'directory'
    : typeflag === TYPEFLAG_SYMLINK ? 'symlink'
    : typeflag === TYPEFLAG_REGULAR || typeflag === 0 ? 'file'
    : 'other';
  return {
    name,
    size,
    mode: readTarNumber(block, OFFSET_MODE, 8),
    uid: readTarNumber(block, OFFSET_UID, 8),
    gid: readTarNumber(block, OFFSET_GID, 8),
    mtime: readTarNumber(block, OFFSET_MTIME, 12),
    type,
    // strlcpy(..., 100) in PostgreSQL: at most 99 bytes.
    linkTarget: type === 'symlink' ? readCString(block, OFFSET_LINKNAME, LEN_LINKNAME - 1) : '',
  };
}

/**
 * Build a header like tarCreateHeader(): directories and symlinks get a trailing "/" and size 0,
 * owner and group names are "postgres", the prefix field stays empty.  `mtime` defaults to the
 * member's.
 */
export function encodeTarHeader(member: TarMember, mtime: number = member.mtime): Buffer {
  const h = Buffer.alloc(TAR_BLOCK_SIZE);
  const isLink = member.type === 'symlink';
  const isDir = member.type === 'directory';

  const flen = writeCString(h, OFFSET_NAME, LEN_NAME, member.name);
  if ((isLink || isDir) && !member.name.endsWith('/')) {
    const at = Math.min(flen, LEN_NAME - 1);
    h[at] = 0x2f; // '/'
    if (at + 1 < LEN_NAME) h[at + 1] = 0;
  }
  writeTarNumber(h, OFFSET_MODE, 8, member.mode & 0o7777);
  writeTarNumber(h, OFFSET_UID, 8, member.uid);
  writeTarNumber(h, OFFSET_GID, 8, member.gid);
  writeTarNumber(h, OFFSET_SIZE, 12, isLink || isDir ? 0 : member.size);
  writeTarNumber(h, OFFSET_MTIME, 12, mtime);
  if (isLink) {
    h[OFFSET_TYPEFLAG] = TYPEFLAG_SYMLINK;
    writeCString(h, OFFSET_LINKNAME, LEN_LINKNAME, member.linkTarget);
  } else {
    h[OFFSET_TYPEFLAG] = isDir ? TYPEFLAG_DIRECTORY : TYPEFLAG_REGULAR;
  }
  h.write('ustar\0', OFFSET_MAGIC, 6, 'latin1');
  h.write('00', OFFSET_VERSION, 2, 'latin1');
  writeCString(h, OFFSET_UNAME, 32, 'postgres');
  writeCString(h, OFFSET_GNAME, 32, 'postgres');
  writeTarNumber(h, OFFSET_DEVMAJOR, 8, 0);
  writeTarNumber(h, OFFSET_DEVMINOR, 8, 0);
  writeTarNumber(h, OFFSET_CHECKSUM, 8, tarChecksum(h));
  return h;
}
