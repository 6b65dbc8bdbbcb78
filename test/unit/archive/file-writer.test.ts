import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileError } from '../../../src/errors.js';
import { FileWriter } from '../../../src/archive/file-writer.js';
import { WriteBatcher } from '../../../src/archive/write-batcher.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-writer-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const tick = () => new Promise((r) => setImmediate(r));

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) % 256;
  return b;
}

describe('WriteBatcher', () => {
  it('gathers up to a batch, writes it while the next one gathers, and waits only for a second full batch', async () => {
    const batches: number[] = [];
    const releases: (() => void)[] = [];
    const b = new WriteBatcher(async (bufs, bytes) => {
      batches.push(bytes);
      expect(bufs.reduce((n, x) => n + x.length, 0)).toBe(bytes);
      await new Promise<void>((r) => releases.push(r));
    }, 100);
    expect(b.write(Buffer.alloc(60))).toBeUndefined();
    expect(batches).toEqual([]);
    expect(b.write(Buffer.alloc(60))).toBeUndefined(); // 120: first batch handed out, nothing to wait for
    expect(batches).toEqual([120]);
    expect(b.write(Buffer.alloc(50))).toBeUndefined();
    const w = b.write(Buffer.alloc(50)); // second full batch while the first is still being written
    expect(w).toBeInstanceOf(Promise);
    let done = false;
    void (w as Promise<void>).then(() => {
      done = true;
    });
    await tick();
    expect(done).toBe(false);
    expect(batches).toEqual([120]);
    releases.shift()?.();
    await w;
    expect(batches).toEqual([120, 100]);
    const f = b.flush();
    releases.shift()?.();
    await f;
  });

  it('reports a failed write on the next write or flush', async () => {
    const b = new WriteBatcher(async () => {
      throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    }, 10);
    b.write(Buffer.alloc(10));
    await tick();
    expect(() => b.write(Buffer.alloc(1))).toThrow('disk full');
    await expect(b.flush()).rejects.toThrow('disk full');
  });
});

describe('FileWriter to a file', () => {
  it('writes everything, in batches, with the given mode, however it is fed', async () => {
    const data = pattern(300_000, 1);
    const path = join(tmp, 'base.tar');
    const created: string[] = [];
    const w = new FileWriter({ path, mode: 0o640 }, { batchBytes: 64 * 1024, onCreate: (p) => created.push(p) });
    for (let off = 0; off < data.length; off += 1000) {
      const r = w.write(data.subarray(off, off + 1000));
      if (r) await r;
    }
    await w.finish();
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(created).toEqual([path]);
  });

  it('writes in place: fed from one buffer overwritten after every write, the file is exactly what was written', async () => {
    const data = pattern(700_000, 3);
    const path = join(tmp, 'inplace.tar');
    const w = new FileWriter({ path, mode: 0o600 });
    expect(w.inPlace).toBe(true);
    const reused = Buffer.alloc(40_000);
    // Pieces below and above the direct-write size, so both the batch and direct writes are used.
    const sizes = [1, 512, 9000, 16_384, 40_000, 3, 20_000];
    let off = 0;
    for (let i = 0; off < data.length; i++) {
      const n = data.copy(reused, 0, off, Math.min(off + (sizes[i % sizes.length] as number), data.length));
      expect(w.write(reused.subarray(0, n))).toBeUndefined();
      reused.fill(0x5a);
      off += n;
    }
    await w.finish();
    expect(readFileSync(path).equals(data)).toBe(true);
    // A PassThrough hands the chunk itself to its reader: its batches are never reused.
    expect(new FileWriter({ stream: new PassThrough(), name: '-' }).inPlace).toBe(false);
  });

  it("fails with pg's message when the file cannot be created", () => {
    const dir = join(tmp, 'ro');
    mkdirSync(dir);
    const path = join(dir, 'nope', 'base.tar');
    expect(() => new FileWriter({ path, mode: 0o600 })).toThrow(FileError);
    expect(() => new FileWriter({ path, mode: 0o600 })).toThrow(`could not create file "${path}": No such file or directory`);
    expect(() => new FileWriter({ path: join(dir, 'x', 'base.tar.gz'), mode: 0o600 }, { compressedFile: true })).toThrow(
      /^could not create compressed file ".*base\.tar\.gz": No such file or directory$/,
    );
  });

  it("fails with pg's message when a write fails", async () => {
    // /dev/full: every write fails with ENOSPC.  Its mode is passed unchanged (the writer chmods).
    if (!existsSync('/dev/full')) return;
    const mode = statSync('/dev/full').mode & 0o777;
    const w = new FileWriter({ path: '/dev/full', mode }, { batchBytes: 10 });
    w.write(Buffer.alloc(20));
    let err: unknown;
    try {
      await tick();
      await tick();
      const r = w.write(Buffer.alloc(1));
      if (r) await r;
      await w.finish();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FileError);
    expect((err as Error).message).toBe('could not write to file "/dev/full": No space left on device');
    await w.abort();
  });
});

describe('FileWriter to a stream', () => {
  it('makes the caller wait while a slow pipe does not take more', async () => {
    let taken = 0;
    const pending: (() => void)[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        taken += chunk.length;
        pending.push(() => cb());
      },
    });
    const w = new FileWriter({ stream: slow, name: '-' }, { batchBytes: 4096 });
    let waited: Promise<void> | undefined;
    let written = 0;
    for (let i = 0; i < 100 && waited === undefined; i++) {
      const r = w.write(Buffer.alloc(1024, i));
      written += 1024;
      if (r) waited = r;
    }
    expect(waited).toBeInstanceOf(Promise);
    // Bounded: at most two batches were accepted before the caller had to wait.
    expect(written).toBeLessThanOrEqual(2 * 4096 + 1024);
    let done = false;
    void waited?.then(() => {
      done = true;
    });
    await tick();
    await tick();
    expect(done).toBe(false);
    while (!done) {
      pending.shift()?.();
      await tick();
    }
    expect(taken).toBeGreaterThanOrEqual(4096);
    const fin = w.finish();
    while (pending.length > 0 || taken < written) {
      pending.shift()?.();
      await tick();
    }
    await fin;
    expect(taken).toBe(written);
  });

  it('writes in place: fed from one buffer overwritten after every write, waits included, the stream gets every byte', async () => {
    const pending: (() => void)[] = [];
    const got: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        got.push(Buffer.from(chunk));
        pending.push(() => cb());
      },
    });
    const w = new FileWriter({ stream: slow, name: '-' }, { batchBytes: 4096, reuseBatches: true });
    expect(w.inPlace).toBe(true);
    // Complete the stream's pending writes until `p` settles (writes reach the stream a tick late: corked).
    const drain = async (p: Promise<void>) => {
      let settled = false;
      void p.then(
        () => (settled = true),
        () => (settled = true),
      );
      while (!settled) {
        while (pending.length > 0) pending.shift()?.();
        await tick();
      }
      await p;
    };
    const data = pattern(50_000, 9);
    const reused = Buffer.alloc(3000);
    let waits = 0;
    for (let off = 0; off < data.length; off += 3000) {
      const n = data.copy(reused, 0, off, Math.min(off + 3000, data.length));
      const r = w.write(reused.subarray(0, n));
      reused.fill(0x77);
      if (r !== undefined) {
        waits++;
        await drain(r);
      }
    }
    await drain(w.finish());
    expect(waits).toBeGreaterThan(0);
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  it('delivers the bytes in order and leaves the stream open', async () => {
    const out = new PassThrough();
    const got: Buffer[] = [];
    out.on('data', (c: Buffer) => got.push(c));
    const w = new FileWriter({ stream: out, name: '-' }, { batchBytes: 100 });
    const data = pattern(1000, 3);
    for (let i = 0; i < data.length; i += 7) await w.write(data.subarray(i, i + 7));
    await w.finish();
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(out.writableEnded).toBe(false);
  });

  it('reports a broken pipe as pg does, naming the output "-"', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const w = new FileWriter({ stream: broken, name: '-' }, { batchBytes: 10 });
    let err: unknown;
    try {
      w.write(Buffer.alloc(10));
      await tick();
      await tick();
      await w.finish();
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe('could not write to file "-": Broken pipe');
  });
});
