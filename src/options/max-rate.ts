/**
 * `-r/--max-rate=RATE[k|M]`: pg_basebackup's parse_max_rate().  The result is in kB/s, within the
 * server's MAX_RATE bounds (src/include/backup/basebackup.h).
 */
import { UsageError } from '../errors.js';
import { isCSpace, strtod } from './c-strto.js';

/** MAX_RATE_LOWER / MAX_RATE_UPPER, kB/s. */
export const MAX_RATE_LOWER = 32;
export const MAX_RATE_UPPER = 1024 * 1024;

const TWO_63 = 2 ** 63;
const INDEFINITE = 2n ** 63n; // what cvttsd2si yields for NaN and out-of-range values

/** (uint64) d as gcc compiles it for x86-64: two truncating conversions around 2^63. */
function toUint64(d: number): bigint {
  const cvt = (x: number): bigint =>
    Number.isFinite(x) && x > -TWO_63 - 1 && x < TWO_63 ? BigInt(Math.trunc(x)) : INDEFINITE;
  if (d >= TWO_63) return BigInt.asUintN(64, cvt(d - TWO_63) ^ INDEFINITE);
  return BigInt.asUintN(64, cvt(d));
}

/** (uint32) d as gcc compiles it for x86-64: a 64-bit truncating conversion, low 32 bits kept. */
function toUint32(d: number): bigint {
  const wide = Number.isFinite(d) && d > -TWO_63 - 1 && d < TWO_63 ? BigInt(Math.trunc(d)) : INDEFINITE;
  return BigInt.asUintN(32, wide);
}

/**
 * Parse a transfer rate as pg does: strtod (C locale, so "0x40", "1e3", "inf" are numbers), an optional
 * unit `k` (default) or `M` (x1024) with blanks around it, then the integer and range checks.
 * Throws UsageError with pg's texts (no hint).
 */
export function parseMaxRate(src: string): number {
  const parsed = strtod(src);
  if (parsed.end === 0) throw new UsageError(`transfer rate "${src}" is not a valid value`);
  if (parsed.erange) throw new UsageError(`invalid transfer rate "${src}": Numerical result out of range`);
  let result = parsed.value;
  if (result <= 0) throw new UsageError('transfer rate must be greater than zero');

  let i = parsed.end;
  while (i < src.length && isCSpace(src[i])) i++;
  let suffix: string | undefined;
  if (i < src.length) {
    suffix = src.slice(i);
    if (src[i] === 'k') {
      i++;
    } else if (src[i] === 'M') {
      i++;
      result *= 1024;
    }
  }
  while (i < src.length && isCSpace(src[i])) i++;
  if (i < src.length) throw new UsageError(`invalid --max-rate unit: "${suffix ?? ''}"`);

  // pg's "(uint64) result != (uint64) ((uint32) result)" with x86-64 conversion semantics.
  if (toUint64(result) !== toUint32(result)) throw new UsageError(`transfer rate "${src}" exceeds integer range`);
  if (result < MAX_RATE_LOWER || result > MAX_RATE_UPPER) throw new UsageError(`transfer rate "${src}" is out of range`);
  return Math.trunc(result);
}
