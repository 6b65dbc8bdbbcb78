/**
 * Synthetic backups for pg_combinebackup's unit tests: a pg_control with chosen BLCKSZ/RELSEG_SIZE
 * (17 or 18 layout, correct CRC), backup_label, relation files, INCREMENTAL.* files in the server's
 * format, and a backup_manifest written with our writer.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checksumOf, crc32c, crc32cFinish, CRC32C_INIT } from '../../../src/manifest/checksum.js';
import { ManifestWriter } from '../../../src/manifest/write.js';

export const BLCKSZ = 8192;

export function tempDir(prefix = 'pgbb-combine-unit-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function controlFile(opts: { systemIdentifier?: bigint; version?: number; relsegSize?: number; blcksz?: number; dataChecksumVersion?: number } = {}): Buffer {
  const buf = Buffer.alloc(8192);
  const version = opts.version ?? 1800;
  buf.writeBigUInt64LE(opts.systemIdentifier ?? 7000000000000000001n, 0);
  buf.writeUInt32LE(version, 8);
  buf.writeUInt32LE(202506291, 12);
  buf.writeUInt32LE(opts.blcksz ?? BLCKSZ, 216);
  buf.writeUInt32LE(opts.relsegSize ?? 131072, 220);
  buf.writeUInt32LE(8192, 224);
  buf.writeUInt32LE(16 * 1024 * 1024, 228);
  buf.writeUInt32LE(opts.dataChecksumVersion ?? 0, 252);
  const at = version === 1700 ? 288 : 292;
  buf.writeUInt32LE(crc32cFinish(crc32c(CRC32C_INIT, buf.subarray(0, at))), at);
  return buf;
}

/** A block whose bytes say where it came from. */
export function block(tag: string): Buffer {
  const b = Buffer.alloc(BLCKSZ, 0);
  b.write(tag.repeat(Math.ceil(64 / tag.length)).slice(0, 64));
  b.writeUInt32LE(tag.length, BLCKSZ - 4);
  return b;
}

export function incrementalFile(tbl: number, blocks: [number, Buffer][], opts: { magic?: number; count?: number } = {}): Buffer {
  const n = blocks.length;
  let header = 12 + 4 * n;
  if (n > 0 && header % BLCKSZ !== 0) header += BLCKSZ - (header % BLCKSZ);
  const h = Buffer.alloc(header);
  h.writeUInt32LE(opts.magic ?? 0xd3ae1f0d, 0);
  h.writeUInt32LE(opts.count ?? n, 4);
  h.writeUInt32LE(tbl, 8);
  blocks.forEach(([b], i) => h.writeUInt32LE(b, 12 + 4 * i));
  return Buffer.concat([h, ...blocks.map(([, d]) => d)]);
}

export interface FixtureBackup {
  startLsn: string;
  tli?: number;
  incrementalFrom?: { lsn: string; tli: number };
  files: Record<string, Buffer>;
  control?: Buffer;
  /** false: no backup_manifest. */
  manifest?: boolean;
  /** Manifest checksums to put instead of the real ones (path → hex). */
  fakeChecksums?: Record<string, string>;
}

export function backupLabel(b: FixtureBackup): string {
  let s = `START WAL LOCATION: ${b.startLsn} (file 000000010000000000000002)\nCHECKPOINT LOCATION: ${b.startLsn}\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-04 10:00:00 UTC\nLABEL: unit\nSTART TIMELINE: ${b.tli ?? 1}\n`;
  if (b.incrementalFrom) s += `INCREMENTAL FROM LSN: ${b.incrementalFrom.lsn}\nINCREMENTAL FROM TLI: ${b.incrementalFrom.tli}\n`;
  return s;
}

/** Write a backup directory; files are written in the order given (so readdir lists them so on most file systems). */
export function writeBackup(dir: string, b: FixtureBackup): void {
  const all: Record<string, Buffer> = {
    PG_VERSION: Buffer.from('18\n'),
    backup_label: Buffer.from(backupLabel(b)),
    'global/pg_control': b.control ?? controlFile(),
    ...b.files,
  };
  mkdirSync(join(dir, 'pg_tblspc'), { recursive: true });
  mkdirSync(join(dir, 'pg_wal'), { recursive: true });
  for (const [p, data] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), data);
  }
  if (b.manifest === false) return;
  const sysid = (b.control ?? controlFile()).readBigUInt64LE(0);
  const w = new ManifestWriter(dir, sysid);
  for (const [p, data] of Object.entries(all)) {
    w.addFile(p, data.length, 1700000000, 'CRC32C', b.fakeChecksums?.[p] ?? checksumOf('CRC32C', data));
  }
  w.finalize([{ timeline: 1, startLsn: 0x2000028n, endLsn: 0x2000100n }]);
}
