/**
 * Bytes waiting to be parsed by an incremental decoder (the LZ4 frame decoder): pieces are kept as
 * they arrive and joined only when a read needs bytes from more than one.
 */
export class InputQueue {
  private pieces: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.pieces.push(b);
    this.length += b.length;
  }

  /** Remove and return the next n bytes (a view when they sit in one piece). */
  take(n: number): Buffer {
    const first = this.pieces[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pieces.shift();
      else this.pieces[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const p = this.pieces[0] as Buffer;
        const k = Math.min(p.length, n - done);
        p.copy(out, done, 0, k);
        done += k;
        if (k === p.length) this.pieces.shift();
        else this.pieces[0] = p.subarray(k);
      }
    }
    this.length -= n;
    return out;
  }

  /** The next n bytes, left in place (the caller checked that there are n). */
  peek(n: number): Buffer {
    const first = this.pieces[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    const out = this.take(n);
    this.pieces.unshift(out);
    this.length += n;
    return out;
  }

  skip(n: number): number {
    const k = Math.min(n, this.length);
    if (k > 0) this.take(k);
    return k;
  }
}
