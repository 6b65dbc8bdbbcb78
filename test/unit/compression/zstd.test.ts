/**
 * The zstd stages (zstd-stage.ts): frames per chunk compressed on the thread pool, in order, with
 * backpressure and bounded concurrency; fzstd's streaming decoder; node:zlib's zstd where the runtime
 * has it.  Checked against the zstd tool when installed, and libzstd through @mongodb-js/zstd otherwise.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fzstdLib, nodeZstd, zstdLib, type NodeZstd, type ZstdLib } from '../../../src/compression/libs.js';
import { createDecompressor } from '../../../src/compression/compression.js';
import { ZlibStage } from '../../../src/compression/zlib-stage.js';
import { createZstdDecompressor, DEFAULT_CHUNKS_IN_FLIGHT, ZstdCompressStage } from '../../../src/compression/zstd-stage.js';
import type { ByteSink } from '../../../src/archive/streamer.js';
import { CollectingByteSink, feed, sample } from '../archive/helpers.js';

const ZSTD_CLI = spawnSync('zstd', ['--version']).status === 0 ? 'zstd' : undefined;
if (!ZSTD_CLI) console.log('skipping "zstd tool" cases by name: the zstd command-line tool is not installed');

const lib = zstdLib() as ZstdLib;

function pieces(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

async function compress(data: Buffer, opts: { level?: number; workers?: number; chunkBytes?: number } = {}): Promise<Buffer> {
  const out = new CollectingByteSink();
  await feed(new ZstdCompressStage(lib, { level: opts.level ?? 3, workers: opts.workers, chunkBytes: opts.chunkBytes }, out), pieces(data, 32 * 1024));
  expect(out.finished).toBe(true);
  return out.bytes;
}

async function decompress(packed: Buffer, cut = 32 * 1024): Promise<Buffer> {
  const out = new CollectingByteSink();
  await feed(createZstdDecompressor(fzstdLib()!, out), pieces(packed, cut));
  return out.bytes;
}

describe('zstd compressor stage', () => {
  it.each([
    ['empty input (still one frame)', 0, {}],
    ['less than a chunk', 100_000, {}],
    ['several chunks, one at a time', 1_000_000, { chunkBytes: 300_000 }],
    ['several chunks, 3 workers', 1_000_000, { chunkBytes: 100_000, workers: 3 }],
    ['level 19', 200_000, { level: 19 }],
    ['negative level', 200_000, { level: -5 }],
  ])('%s: round trip', async (_name, n, opts) => {
    const data = sample(n);
    const packed = await compress(data, opts);
    expect(packed.length).toBeGreaterThan(0);
    expect((await decompress(packed)).equals(data)).toBe(true);
    expect((await lib.decompress(packed)).equals(data)).toBe(true);
  });

  it('the level is applied (higher levels compress smaller)', async () => {
    const data = sample(1_000_000, 11);
    const sizes = await Promise.all([-5, 1, 19].map(async (level) => (await compress(data, { level })).length));
    expect(sizes[0]).toBeGreaterThan(sizes[1] as number);
    expect(sizes[1]).toBeGreaterThan(sizes[2] as number);
  });

  it.runIf(ZSTD_CLI !== undefined)('zstd tool: decodes our concatenated frames', async () => {
    const data = sample(3_000_000);
    const packed = await compress(data, { chunkBytes: 1_000_000, workers: 2 });
    const r = spawnSync(ZSTD_CLI as string, ['-d', '-c'], { input: packed, maxBuffer: 64 << 20 });
    expect(r.status).toBe(0);
    expect(r.stdout.equals(data)).toBe(true);
  });

  it.each([
    ['`workers`', 3, 3],
    ['two chunks without workers', undefined, DEFAULT_CHUNKS_IN_FLIGHT],
  ])('keeps at most %s in flight and waits for a slow next stage', async (_name, workers, expected) => {
    let active = 0;
    let maxActive = 0;
    const counting: ZstdLib = {
      compress: async (d, level) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 5));
        try {
          return await lib.compress(d, level);
        } finally {
          active--;
        }
      },
      decompress: (d) => lib.decompress(d),
    };
    const slow = new CollectingByteSink(true);
    const stage = new ZstdCompressStage(counting, { level: 1, workers, chunkBytes: 10_000 }, slow);
    const data = sample(200_000);
    const done = (async () => {
      for (const p of pieces(data, 4096)) {
        const r = stage.write(p);
        if (r !== undefined) await r;
      }
      await stage.finish();
    })();
    const release = setInterval(() => slow.release(), 1);
    try {
      await done;
    } finally {
      clearInterval(release);
    }
    expect(maxActive).toBe(expected);
    expect(slow.writes).toBe(20);
    expect((await decompress(slow.bytes)).equals(data)).toBe(true);
  });

  it('reports a library failure with pg\'s prefix and aborts the next stage', async () => {
    const failing: ZstdLib = { compress: async () => Promise.reject(new Error('boom')), decompress: (d) => lib.decompress(d) };
    const out = new CollectingByteSink();
    const stage = new ZstdCompressStage(failing, { level: 3 }, out);
    await expect(feed(stage, [sample(1000)])).rejects.toThrow('could not compress data: boom');
    await stage.abort();
    expect(out.aborted).toBe(true);
  });
});

describe('zstd decompressor stage', () => {
  it('decodes however the input is cut', async () => {
    const data = sample(1500);
    const packed = await lib.compress(data, 3);
    for (let cut = 1; cut < packed.length; cut++) {
      const out = new CollectingByteSink();
      await feed(createZstdDecompressor(fzstdLib()!, out), [packed.subarray(0, cut), packed.subarray(cut)]);
      if (!out.bytes.equals(data)) expect.fail(`split at ${cut}`);
    }
  });

  it.runIf(ZSTD_CLI !== undefined).each([
    ['level 1', ['-1']],
    ['level 19 with checksum', ['-19', '--check']],
    ['long distance mode', ['--long=27']],
    ['two threads', ['-T2', '-3']],
  ])('zstd tool: %s', async (_name, args) => {
    const data = sample(2_000_000, 5);
    const r = spawnSync(ZSTD_CLI as string, ['-c', ...args], { input: data, maxBuffer: 64 << 20 });
    expect(r.status).toBe(0);
    expect((await decompress(r.stdout)).equals(data)).toBe(true);
  });

  it('rejects truncated input', async () => {
    const packed = await lib.compress(sample(100_000), 3);
    await expect(decompress(packed.subarray(0, packed.length - 10))).rejects.toThrow(/^could not decompress data: /);
  });

  it('holds back when the next stage is slow', async () => {
    const data = Buffer.alloc(8 * 1024 * 1024);
    const packed = await lib.compress(data, 3);
    let received = 0;
    const waiting: (() => void)[] = [];
    const slow: ByteSink = {
      write(buf) {
        received += buf.length;
        return new Promise<void>((r) => waiting.push(r));
      },
      finish: async () => undefined,
      abort: async () => undefined,
    };
    const stage = createZstdDecompressor(fzstdLib()!, slow);
    const w = stage.write(packed.subarray(0, 100));
    await new Promise((r) => setTimeout(r, 20));
    expect(waiting.length).toBeLessThanOrEqual(1);
    const drain = setInterval(() => waiting.shift()?.(), 0);
    try {
      if (w) await w;
      const w2 = stage.write(packed.subarray(100));
      if (w2) await w2;
      await stage.finish();
    } finally {
      clearInterval(drain);
    }
    expect(received).toBe(data.length);
  });
});

/** node:zlib's zstd (Node.js 22.15 / 23.8 and later; .ci/run runs the unit tests on Node 24 too). */
const own = nodeZstd();
if (!own) console.log(`skipping "node:zlib zstd" cases by name: Node.js ${process.version} has no zstd in node:zlib`);

describe.runIf(own !== undefined)('node:zlib zstd', () => {
  it('decompresses for the chain (createDecompressor), however the input is cut, frames from the library and its own', async () => {
    const data = sample(1_000_000, 7);
    const frames = Buffer.concat([await lib.compress(data.subarray(0, 400_000), 3), await (own as NodeZstd).compress(data.subarray(400_000), 1)]);
    for (const cut of [1, 7, 4096, 65_536]) {
      const out = new CollectingByteSink();
      const stage = createDecompressor('zstd', out);
      expect(stage).toBeInstanceOf(ZlibStage);
      await feed(stage, pieces(frames, cut));
      expect(out.bytes.equals(data)).toBe(true);
    }
  });

  it('compresses when the library is given in its place: round trip through fzstd, the level applied', async () => {
    const data = sample(1_000_000, 3);
    const packed = async (level: number) => {
      const out = new CollectingByteSink();
      await feed(new ZstdCompressStage(own as NodeZstd, { level, chunkBytes: 300_000, workers: 2 }, out), pieces(data, 32 * 1024));
      return out.bytes;
    };
    const fast = await packed(1);
    const small = await packed(19);
    expect((await decompress(fast)).equals(data)).toBe(true);
    expect((await decompress(small)).equals(data)).toBe(true);
    expect(small.length).toBeLessThan(fast.length);
  });

  it("rejects truncated and corrupt input with pg's prefix", async () => {
    const packed = await lib.compress(sample(100_000), 3);
    for (const bad of [packed.subarray(0, packed.length - 10), Buffer.concat([packed.subarray(0, 20), Buffer.alloc(200, 0x55)])]) {
      const out = new CollectingByteSink();
      await expect(feed(createDecompressor('zstd', out), pieces(bad, 64))).rejects.toThrow(/^could not decompress data: /);
    }
  });
});
