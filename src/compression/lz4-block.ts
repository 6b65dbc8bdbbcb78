/**
 * Decoding of one LZ4 block (the LZ4 block format: sequences of a token, literals, a 2-byte offset and
 * a match length), into a window that may start with up to 64 kB of earlier output (linked blocks).
 * Every read and write is bounds-checked: corrupt input raises Lz4FormatError, never garbage.
 */

export class Lz4FormatError extends Error {}

/** Matches shorter than this are copied byte by byte (faster than copyWithin for short runs). */
const SHORT_COPY = 32;

/**
 * Decode src[start, end) into dst starting at `d`; matches may reach back to dst[floor].  Returns the
 * position after the last byte written.  dst must have room up to `limit`.
 */
export function decodeLz4Block(src: Uint8Array, start: number, end: number, dst: Uint8Array, d: number, floor: number, limit: number): number {
  let s = start;
  while (s < end) {
    const token = src[s++] as number;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= end) throw new Lz4FormatError('literal length runs past the end of the block');
        b = src[s++] as number;
        lit += b;
      } while (b === 255);
    }
    if (lit > 0) {
      if (s + lit > end) throw new Lz4FormatError('literals run past the end of the block');
      if (d + lit > limit) throw new Lz4FormatError('block decodes to more than the maximum block size');
      if (lit < SHORT_COPY) {
        for (let k = 0; k < lit; k++) dst[d + k] = src[s + k] as number;
      } else {
        dst.set(src.subarray(s, s + lit), d);
      }
      s += lit;
      d += lit;
    }
    if (s >= end) break; // the last sequence has literals only
    if (s + 2 > end) throw new Lz4FormatError('match offset runs past the end of the block');
    const offset = (src[s] as number) | ((src[s + 1] as number) << 8);
    s += 2;
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (s >= end) throw new Lz4FormatError('match length runs past the end of the block');
        b = src[s++] as number;
        len += b;
      } while (b === 255);
    }
    len += 4;
    let m = d - offset;
    if (offset === 0 || m < floor) throw new Lz4FormatError('match offset points before the start of the data');
    if (d + len > limit) throw new Lz4FormatError('block decodes to more than the maximum block size');
    if (len < SHORT_COPY || offset < len) {
      const stop = d + len;
      while (d < stop) dst[d++] = dst[m++] as number; // overlapping copies repeat the pattern
    } else {
      dst.copyWithin(d, m, m + len);
      d += len;
    }
  }
  return d;
}
