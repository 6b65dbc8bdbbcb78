/**
 * global/pg_control of PostgreSQL 17 and 18 (ControlFileData, src/include/catalog/pg_control.h), read
 * as pg's get_controlfile_by_exact_path() does: the struct's bytes, a CRC-32C over everything before
 * the `crc` field, compared with that field.  Only the fields pg_combinebackup needs are decoded.
 *
 * Layout facts (little-endian, 8-byte alignment, as on every platform these servers run on here):
 * system_identifier at 0, pg_control_version at 8, blcksz 216, relseg_size 220, xlog_blcksz 224,
 * xlog_seg_size 228, data_checksum_version 252 in both majors.  18 (PG_CONTROL_VERSION 1800) adds a
 * one-byte default_char_signedness at 256, so its 32-byte mock authentication nonce runs 257..288 and
 * the crc sits at 292 (struct size 296); in 17 (1700) the nonce runs 256..287 and the crc sits at 288
 * (struct size 292).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { FileError, strerror } from '../errors.js';
import { crc32c, crc32cFinish, CRC32C_INIT } from '../manifest/checksum.js';

export const PG_CONTROL_VERSION_17 = 1700;
export const PG_CONTROL_VERSION_18 = 1800;
/** The bytes of the file holding the struct (the rest of the 8 kB page is zeros). */
export const PG_CONTROL_FILE_SIZE = 8192;
/** Path of the control file inside a data directory (XLOG_CONTROL_FILE). */
export const XLOG_CONTROL_FILE = 'global/pg_control';

/** Where the crc field is, by control file version; unknown versions are read with 18's layout. */
function crcOffset(version: number): number {
  return version === PG_CONTROL_VERSION_17 ? 288 : 292;
}

/** sizeof(ControlFileData) of the newest layout: what pg's read() asks for. */
const READ_SIZE = 296;

export interface ControlFile {
  systemIdentifier: bigint;
  pgControlVersion: number;
  catalogVersion: number;
  blcksz: number;
  relsegSize: number;
  xlogBlcksz: number;
  walSegSize: number;
  dataChecksumVersion: number;
  /** The stored CRC matches the contents. */
  crcOk: boolean;
}

/** Decode a control file's bytes (at least the struct's size). */
export function decodeControlFile(buf: Buffer): ControlFile {
  const pgControlVersion = buf.readUInt32LE(8);
  const at = crcOffset(pgControlVersion);
  const crc = crc32cFinish(crc32c(CRC32C_INIT, buf.subarray(0, at)));
  return {
    systemIdentifier: buf.readBigUInt64LE(0),
    pgControlVersion,
    catalogVersion: buf.readUInt32LE(12),
    blcksz: buf.readUInt32LE(216),
    relsegSize: buf.readUInt32LE(220),
    xlogBlcksz: buf.readUInt32LE(224),
    walSegSize: buf.readUInt32LE(228),
    dataChecksumVersion: buf.readUInt32LE(252),
    crcOk: buf.readUInt32LE(at) === crc,
  };
}

/**
 * Read a control file by its exact path.  Failures give pg's texts: `could not open file "%s" for
 * reading: %m`, `could not read file "%s": %m` and `could not read file "%s": read %d of %zu`.
 */
export function readControlFile(path: string): ControlFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new FileError(`could not open file "${path}" for reading: ${strerror(e)}`, path, { cause: e });
  }
  const buf = Buffer.alloc(READ_SIZE);
  let n = 0;
  try {
    for (;;) {
      const r = readSync(fd, buf, n, READ_SIZE - n, n);
      if (r === 0) break;
      n += r;
      if (n === READ_SIZE) break;
    }
  } catch (e) {
    throw new FileError(`could not read file "${path}": ${strerror(e)}`, path, { cause: e });
  } finally {
    closeSync(fd);
  }
  if (n !== READ_SIZE) throw new FileError(`could not read file "${path}": read ${n} of ${READ_SIZE}`, path);
  return decodeControlFile(buf);
}
