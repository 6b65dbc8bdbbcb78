/**
 * The client-side compressors (lz4-stage.ts, zstd-stage.ts) are `inPlace`: they keep nothing of a
 * written piece once write() returns, even when they ask the caller to wait, so the CopyData pump can
 * hand them views of the connection's reused read buffer.  Here every piece is written from one
 * buffer that is overwritten right after each write() returns, and the sink keeps the buffers it is
 * given without copying them: any view of the caller's memory kept or passed on shows up as corrupt
 * output.  Also: the zstd compressor gathers the next chunk while one is being compressed.
 */
import { describe, expect, it } from 'vitest';
import { Lz4FrameDecoder } from '../../../src/compression/lz4-frame.js';
import { lz4Lib, zstdLib, type ZstdLib } from '../../../src/compression/libs.js';
import { createLz4Compressor } from '../../../src/compression/lz4-stage.js';
import type { ByteSink } from '../../../src/archive/streamer.js';
import { DEFAULT_CHUNKS_IN_FLIGHT, ZstdCompressStage } from '../../../src/compression/zstd-stage.js';
import { sample } from '../archive/helpers.js';

const zstd = zstdLib() as ZstdLib;

/** Keeps what it is given as it is (no copy); optionally makes every write wait a little. */
class KeepingSink implements ByteSink {
  kept: Buffer[] = [];
  finished = false;
  constructor(private readonly waitMs = -1) {}
  write(buf: Buffer): void | Promise<void> {
    this.kept.push(buf);
    return this.waitMs < 0 ? undefined : new Promise((r) => setTimeout(r, this.waitMs));
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async abort(): Promise<void> {}
  get bytes(): Buffer {
    return Buffer.concat(this.kept);
  }
}

/** Writes `data` in `size`-byte pieces, all from one buffer scribbled over after each write(). */
async function feedReused(stage: ByteSink, data: Buffer, size: number): Promise<number> {
  const scratch = Buffer.alloc(size);
  let waits = 0;
  for (let i = 0; i < data.length; i += size) {
    const n = Math.min(size, data.length - i);
    data.copy(scratch, 0, i, i + n);
    const r = stage.write(scratch.subarray(0, n));
    scratch.fill(0xee); // the caller reuses its memory once write() has returned
    if (r !== undefined) {
      waits++;
      await r;
    }
  }
  await stage.finish();
  return waits;
}

function lz4Decode(b: Buffer): Buffer {
  const d = new Lz4FrameDecoder();
  const out = d.push(b);
  d.finish();
  return Buffer.concat(out);
}

describe('compressors keep nothing of the caller\'s pieces (inPlace)', () => {
  it('lz4: say so, and the output is right however the input is cut', async () => {
    const lib = lz4Lib();
    if (!lib) throw new Error('lz4-napi not loadable');
    const data = Buffer.concat([sample(300_000), Buffer.alloc(70_000, 7), sample(200_000, 5)]);
    for (const size of [1, 1000, 32 * 1024, 65_536, 200_000]) {
      const input = size === 1 ? data.subarray(0, 5000) : data;
      const out = new KeepingSink();
      const stage = createLz4Compressor(lib, out);
      expect(stage.inPlace).toBe(true);
      await feedReused(stage, input, size);
      expect(lz4Decode(out.bytes).equals(input)).toBe(true);
    }
  });

  it('lz4: incompressible blocks and blocks compressed where they lie are copies too', async () => {
    const lib = lz4Lib();
    if (!lib) throw new Error('lz4-napi not loadable');
    const noise = Buffer.alloc(3 * 65_536 + 100);
    let x = 9;
    for (let i = 0; i < noise.length; i++) noise[i] = (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 24;
    const out = new KeepingSink();
    await feedReused(createLz4Compressor(lib, out), noise, 2 * 65_536);
    expect(lz4Decode(out.bytes).equals(noise)).toBe(true);
  });

  it('zstd: say so, also when write() must wait for a frame (slow sink, slow library)', async () => {
    const data = sample(700_000, 3);
    const slowLib: ZstdLib = {
      compress: async (d, level) => {
        await new Promise((r) => setTimeout(r, 3));
        return zstd.compress(d, level);
      },
      decompress: (d) => zstd.decompress(d),
    };
    for (const [lib, sink, workers] of [
      [zstd, new KeepingSink(), undefined],
      [slowLib, new KeepingSink(1), undefined],
      [slowLib, new KeepingSink(), 2],
    ] as const) {
      const stage = new ZstdCompressStage(lib, { level: 1, workers, chunkBytes: 50_000 }, sink);
      expect(stage.inPlace).toBe(true);
      const waits = await feedReused(stage, data, 7777);
      if (lib === slowLib) expect(waits).toBeGreaterThan(0);
      expect((await zstd.decompress(sink.bytes)).equals(data)).toBe(true);
      expect(sink.finished).toBe(true);
    }
  });

  it('zstd: the next chunk is gathered while one is compressed (two at a time without workers)', async () => {
    let active = 0;
    let maxActive = 0;
    let gate: (() => void)[] = [];
    const releaseAll = (): void => {
      const g = gate;
      gate = [];
      for (const r of g) r();
    };
    const gated: ZstdLib = {
      compress: async (d, level) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((r) => gate.push(r));
        active--;
        return zstd.compress(d, level);
      },
      decompress: (d) => zstd.decompress(d),
    };
    const out = new KeepingSink();
    const stage = new ZstdCompressStage(gated, { level: 1, chunkBytes: 1000 }, out);
    const data = sample(3500);
    // Two chunks are launched and the third gathered without waiting.
    expect(DEFAULT_CHUNKS_IN_FLIGHT).toBe(2);
    expect(stage.write(data.subarray(0, 1000))).toBeUndefined();
    expect(stage.write(data.subarray(1000, 1999))).toBeUndefined();
    expect(stage.write(data.subarray(1999, 2500))).toBeUndefined();
    // Completing the third chunk needs room: the write waits for the first frame.
    const w = stage.write(data.subarray(2500));
    expect(w).toBeInstanceOf(Promise);
    let settled = false;
    void (w as Promise<void>).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    const timer = setInterval(releaseAll, 1);
    try {
      await w;
      await stage.finish();
    } finally {
      clearInterval(timer);
    }
    expect(maxActive).toBe(2);
    expect((await zstd.decompress(out.bytes)).equals(data)).toBe(true);
  });
});
