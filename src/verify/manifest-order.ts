/**
 * The order in which pg_verifybackup visits its manifest entries when it reports files missing from
 * the backup and when it verifies plain-format checksums: the iteration order of its simplehash table
 * (lib/simplehash.h) keyed by path with hash_string() (common/hashfn_unstable.h, fasthash), sized from
 * the manifest file's size.  Reproducing it makes the order of several such messages equal pg's.
 *
 * Table facts used: initial capacity nelements / 0.9 rounded up to a power of two, where nelements is
 * max(file size / 100, 256); growth doubles at 0.9 fill; insertion is Robin Hood linear probing
 * (an entry farther from its home bucket displaces a nearer one, shifting the run forward), with an
 * early doubling when a probe passes 25 buckets or a shift passes 150 (only at fill >= 0.1); iteration
 * starts at the first bucket not in use and walks backwards, wrapping around.
 */

const M64 = (1n << 64n) - 1n;
const SEED_MULT = 0x880355f21e6d1965n;
const MIX_MULT = 0x2127599bf4325c37n;

function mix(h0: bigint, tweak: bigint): bigint {
  let h = h0 ^ (((h0 >> 23n) + tweak) & M64);
  h = (h * MIX_MULT) & M64;
  return h ^ (h >> 47n);
}

/** hash_string() of a C string's bytes (up to its first NUL). */
export function hashString(bytes: Uint8Array): number {
  let hash = SEED_MULT;
  let len = 0;
  while (len < bytes.length && bytes[len] !== 0) len++;
  for (let at = 0; at < len; at += 8) {
    const n = Math.min(8, len - at);
    let accum = 0n;
    for (let i = n - 1; i >= 0; i--) accum = (accum << 8n) | BigInt(bytes[at + i] as number);
    hash ^= mix(accum, 0n);
    hash = (hash * SEED_MULT) & M64;
  }
  const h = mix(hash, BigInt(len));
  return Number((h - (h >> 32n)) & 0xffffffffn);
}

function nextPowerOf2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

const FILLFACTOR = 0.9;
const GROW_MAX_DIB = 25;
const GROW_MAX_MOVE = 150;
const GROW_MIN_FILLFACTOR = 0.1;

class SimpleHash {
  private size = 0;
  private mask = 0;
  private growThreshold = 0;
  private members = 0;
  /** Bucket -> item index, -1 when empty. */
  private data: Int32Array = new Int32Array(0);

  constructor(
    nelements: number,
    private readonly hashes: readonly number[],
  ) {
    this.setSize(Math.trunc(nelements / FILLFACTOR));
    this.data = new Int32Array(this.size).fill(-1);
  }

  private setSize(newsize: number): void {
    this.size = nextPowerOf2(Math.max(newsize, 2));
    this.mask = this.size - 1;
    this.growThreshold = this.size * FILLFACTOR;
  }

  private home(item: number): number {
    return ((this.hashes[item] as number) & this.mask) >>> 0;
  }

  private grow(): void {
    const old = this.data;
    const oldsize = this.size;
    this.setSize(oldsize * 2);
    const data = new Int32Array(this.size).fill(-1);
    let start = 0;
    for (let i = 0; i < oldsize; i++) {
      const it = old[i] as number;
      if (it < 0 || (((this.hashes[it] as number) & (oldsize - 1)) >>> 0) === i) {
        start = i;
        break;
      }
    }
    let copy = start;
    for (let i = 0; i < oldsize; i++) {
      const it = old[copy] as number;
      if (it >= 0) {
        let cur = this.home(it);
        while ((data[cur] as number) >= 0) cur = (cur + 1) & this.mask;
        data[cur] = it;
      }
      copy = copy + 1 >= oldsize ? 0 : copy + 1;
    }
    this.data = data;
  }

  insert(item: number): void {
    for (;;) {
      if (this.members >= this.growThreshold) this.grow();
      const data = this.data;
      const start = this.home(item);
      let cur = start;
      let insertDist = 0;
      let restart = false;
      for (;;) {
        const occupant = data[cur] as number;
        if (occupant < 0) {
          data[cur] = item;
          this.members++;
          return;
        }
        const curOptimal = this.home(occupant);
        const curDist = curOptimal <= cur ? cur - curOptimal : this.size + cur - curOptimal;
        if (insertDist > curDist) {
          let empty = cur;
          let emptyDist = 0;
          for (;;) {
            empty = (empty + 1) & this.mask;
            if ((data[empty] as number) < 0) break;
            if (++emptyDist > GROW_MAX_MOVE && this.members / this.size >= GROW_MIN_FILLFACTOR) {
              restart = true;
              break;
            }
          }
          if (restart) break;
          for (let m = empty; m !== cur; ) {
            const prev = (m - 1) & this.mask;
            data[m] = data[prev] as number;
            m = prev;
          }
          data[cur] = item;
          this.members++;
          return;
        }
        cur = (cur + 1) & this.mask;
        insertDist++;
        if (insertDist > GROW_MAX_DIB && this.members / this.size >= GROW_MIN_FILLFACTOR) {
          restart = true;
          break;
        }
      }
      if (restart) this.growThreshold = 0;
    }
  }

  /** Items in iteration order. */
  iterate(): number[] {
    let start = 0;
    for (let i = 0; i < this.size; i++) {
      if ((this.data[i] as number) < 0) {
        start = i;
        break;
      }
    }
    const out: number[] = [];
    let cur = start;
    for (;;) {
      const it = this.data[cur] as number;
      cur = (cur - 1) & this.mask;
      if (it >= 0) out.push(it);
      if (cur === start) break;
    }
    return out;
  }
}

/**
 * pg_verifybackup's visiting order of `keys` (in manifest order, each a path's bytes) for a manifest
 * file of `manifestBytes` bytes: a permutation of 0..keys.length-1.
 */
export function manifestIterationOrder(keys: readonly Uint8Array[], manifestBytes: number): number[] {
  const nelements = Math.min(0xffffffff, Math.max(Math.floor(manifestBytes / 100), 256));
  const table = new SimpleHash(nelements, keys.map(hashString));
  for (let i = 0; i < keys.length; i++) table.insert(i);
  return table.iterate();
}
