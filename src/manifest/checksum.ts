/**
 * File checksums in the algorithms a backup manifest names (PostgreSQL's pg_checksum_type):
 * NONE, CRC32C (the default), SHA224, SHA256, SHA384, SHA512.
 *
 * The hex text is what a manifest prints: for CRC32C, the four bytes of the final value in the
 * server's (little-endian) memory order; for SHA-2, the digest bytes in order.
 */
import type { Hash } from 'node:crypto';
import { cryptoModule, optionalPackage } from '../lazy-builtins.js';

export type ChecksumAlgorithm = 'NONE' | 'CRC32C' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['NONE', 'CRC32C', 'SHA224', 'SHA256', 'SHA384', 'SHA512'];

/** The algorithm named by `name`, compared case-insensitively as pg_checksum_parse_type does; undefined if none. */
export function parseChecksumAlgorithm(name: string): ChecksumAlgorithm | undefined {
  const upper = name.toUpperCase();
  return CHECKSUM_ALGORITHMS.find((a) => a === upper);
}

/** Length in bytes of a checksum of this algorithm (0 for NONE). */
export function checksumLength(algorithm: ChecksumAlgorithm): number {
  switch (algorithm) {
    case 'NONE':
      return 0;
    case 'CRC32C':
      return 4;
    case 'SHA224':
      return 28;
    case 'SHA256':
      return 32;
    case 'SHA384':
      return 48;
    case 'SHA512':
      return 64;
  }
}

// ---------------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-8 tables.

const CRC32C_TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0] as Uint32Array;
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[i] = c >>> 0;
  }
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1] as Uint32Array;
    const cur = tables[t] as Uint32Array;
    for (let i = 0; i < 256; i++) {
      const p = prev[i] as number;
      cur[i] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
  }
  return tables;
})();

/** The running state a CRC-32C starts from (INIT_CRC32C). */
export const CRC32C_INIT = 0xffffffff;

type NativeCrc32c = (input: Uint8Array, initialState?: number) => number;

/**
 * The SSE4.2/ARMv8 CRC-32C of @node-rs/crc32 (about 5 GB/s against 0.8 GB/s for the tables below), when
 * its binary for this platform is installed; its state is the finished CRC of what came before.  Loaded
 * on first use: a backup that checks no CRC-32C (`-Ft -D -`, say) does without its 1.5 MB and 3-5 ms
 * of start-up.
 */
function nativeCrc32c(): NativeCrc32c | undefined {
  return optionalPackage<{ crc32c: NativeCrc32c }>('@node-rs/crc32')?.crc32c;
}

/** Feeds `buf` into a running CRC-32C state (COMP_CRC32C); returns the new state. */
export function crc32c(state: number, buf: Uint8Array): number {
  const native = buf.length >= 64 ? nativeCrc32c() : undefined;
  if (native !== undefined) return (native(buf, (state ^ 0xffffffff) >>> 0) ^ 0xffffffff) >>> 0;
  return crc32cTables(state, buf);
}

/** CRC-32C with slice-by-8 tables: the portable path, also used for short inputs. */
export function crc32cTables(state: number, buf: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES as [
    Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  ];
  let c = state >>> 0;
  let i = 0;
  const n = buf.length;
  const n8 = n - (n % 8);
  for (; i < n8; i += 8) {
    const a = (c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0;
    c = (t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
      t3[buf[i + 4]!]! ^ t2[buf[i + 5]!]! ^ t1[buf[i + 6]!]! ^ t0[buf[i + 7]!]!) >>> 0;
  }
  for (; i < n; i++) c = (t0[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)) >>> 0;
  return c;
}

/** The final CRC-32C value of a running state (FIN_CRC32C). */
export function crc32cFinish(state: number): number {
  return (state ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------------

/** An incremental checksum of one algorithm. */
export interface Checksummer {
  readonly algorithm: ChecksumAlgorithm;
  update(b: Uint8Array): void;
  /** Lower-case hex as a manifest prints it ('' for NONE).  Call once. */
  digest(): string;
}

export function createChecksummer(algorithm: ChecksumAlgorithm): Checksummer {
  switch (algorithm) {
    case 'NONE':
      return { algorithm, update: () => undefined, digest: () => '' };
    case 'CRC32C': {
      let c = CRC32C_INIT;
      return {
        algorithm,
        update: (b) => {
          c = crc32c(c, b);
        },
        digest: () => {
          const out = Buffer.allocUnsafe(4);
          out.writeUInt32LE(crc32cFinish(c));
          return out.toString('hex');
        },
      };
    }
    default: {
      const h: Hash = cryptoModule().createHash(algorithm.toLowerCase());
      return { algorithm, update: (b) => void h.update(b), digest: () => h.digest('hex') };
    }
  }
}

/** Checksum of one buffer. */
export function checksumOf(algorithm: ChecksumAlgorithm, data: Uint8Array): string {
  const c = createChecksummer(algorithm);
  c.update(data);
  return c.digest();
}
