/**
 * XXH32, the checksum of the LZ4 frame format (frame descriptor byte HC, optional block and content
 * checksums), after the published xxHash specification.  Incremental, for streamed content.
 */

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) >>> 0, 13), P1) >>> 0;
}

function readU32(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
}

export class Xxh32 {
  private v1: number;
  private v2: number;
  private v3: number;
  private v4: number;
  private total = 0;
  /** Up to 15 bytes not yet consumed as a 16-byte stripe. */
  private readonly tail = new Uint8Array(16);
  private tailLen = 0;

  constructor(private readonly seed = 0) {
    this.v1 = (seed + P1 + P2) >>> 0;
    this.v2 = (seed + P2) >>> 0;
    this.v3 = seed >>> 0;
    this.v4 = (seed - P1) >>> 0;
  }

  private stripe(b: Uint8Array, i: number): void {
    this.v1 = round(this.v1, readU32(b, i));
    this.v2 = round(this.v2, readU32(b, i + 4));
    this.v3 = round(this.v3, readU32(b, i + 8));
    this.v4 = round(this.v4, readU32(b, i + 12));
  }

  update(b: Uint8Array): this {
    this.total += b.length;
    let i = 0;
    if (this.tailLen > 0) {
      const take = Math.min(16 - this.tailLen, b.length);
      this.tail.set(b.subarray(0, take), this.tailLen);
      this.tailLen += take;
      i = take;
      if (this.tailLen < 16) return this;
      this.stripe(this.tail, 0);
      this.tailLen = 0;
    }
    for (; i + 16 <= b.length; i += 16) this.stripe(b, i);
    if (i < b.length) {
      this.tail.set(b.subarray(i), 0);
      this.tailLen = b.length - i;
    }
    return this;
  }

  digest(): number {
    let h =
      this.total >= 16
        ? (rotl(this.v1, 1) + rotl(this.v2, 7) + rotl(this.v3, 12) + rotl(this.v4, 18)) >>> 0
        : (this.seed + P5) >>> 0;
    h = (h + this.total) >>> 0; // the length modulo 2^32
    let i = 0;
    const t = this.tail;
    for (; i + 4 <= this.tailLen; i += 4) {
      h = Math.imul(rotl((h + Math.imul(readU32(t, i), P3)) >>> 0, 17), P4) >>> 0;
    }
    for (; i < this.tailLen; i++) {
      h = Math.imul(rotl((h + Math.imul(t[i] as number, P5)) >>> 0, 11), P1) >>> 0;
    }
    h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
    h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  }
}

/** XXH32 of one buffer. */
export function xxh32(b: Uint8Array, seed = 0): number {
  return new Xxh32(seed).update(b).digest();
}
