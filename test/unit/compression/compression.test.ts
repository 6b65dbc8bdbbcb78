import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  archiveCompression,
  compressionSuffix,
  compressionSupported,
  createCompressor,
  createDecompressor,
} from '../../../src/compression/compression.js';
import type { ByteSink } from '../../../src/archive/streamer.js';
import { CollectingByteSink, feed } from '../archive/helpers.js';

function sample(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 7 === 0 ? (i * 13) % 256 : 65 + (i % 26);
  return b;
}

describe('archive names and suffixes', () => {
  it.each([
    ['base.tar', 'none'],
    ['16384.tar', 'none'],
    ['base.tar.gz', 'gzip'],
    ['base.tar.lz4', 'lz4'],
    ['base.tar.zst', 'zstd'],
    ['.tar', undefined],
    ['base.zip', undefined],
    ['base.tar.bz2', undefined],
  ])('%s is %s', (name, alg) => {
    expect(archiveCompression(name)).toBe(alg);
  });

  it('uses pg\'s suffixes', () => {
    expect(['none', 'gzip', 'lz4', 'zstd'].map((a) => compressionSuffix(a as 'none'))).toEqual(['', '.gz', '.lz4', '.zst']);
  });
});

describe('gzip stages', () => {
  it('compress what gunzip restores', async () => {
    const data = sample(300_000);
    const out = new CollectingByteSink();
    const gz = createCompressor({ algorithm: 'gzip', level: 1 }, out);
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += 32 * 1024) pieces.push(data.subarray(i, i + 32 * 1024));
    await feed(gz, pieces);
    expect(out.finished).toBe(true);
    expect(gunzipSync(out.bytes).equals(data)).toBe(true);
  });

  it('decompress however the input is cut', async () => {
    const data = sample(5000);
    const gz = gzipSync(data);
    for (let cut = 1; cut < gz.length; cut++) {
      const out = new CollectingByteSink();
      await feed(createDecompressor('gzip', out), [gz.subarray(0, cut), gz.subarray(cut)]);
      if (!out.bytes.equals(data)) expect.fail(`split at ${cut}`);
    }
  });

  it('decompress with bounded memory when the next stage is slow', async () => {
    const data = Buffer.alloc(20 * 1024 * 1024); // compresses about 1000:1
    const gz = gzipSync(data);
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
    const stage = createDecompressor('gzip', slow);
    const w = stage.write(gz);
    await new Promise((r) => setTimeout(r, 30));
    // the stage holds back: it neither inflated everything nor handed it all on
    expect(received).toBeLessThan(2 * 1024 * 1024);
    const f = (async () => {
      if (w) await w;
      await stage.finish();
    })();
    const drain = setInterval(() => waiting.shift()?.(), 0);
    try {
      await f;
    } finally {
      clearInterval(drain);
    }
    expect(received).toBe(data.length);
  });

  it("report corrupt input with pg's prefix and abort the next stage on abort", async () => {
    const out = new CollectingByteSink();
    const stage = createDecompressor('gzip', out);
    let err: unknown;
    try {
      await feed(stage, [Buffer.from('definitely not gzip data')]);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toMatch(/^could not decompress data: incorrect header check$/);
    await stage.abort();
    expect(out.aborted).toBe(true);
  });
});

describe('lz4 and zstd (libraries beyond node:zlib)', () => {
  it('are supported by this build, both ways', () => {
    expect(compressionSupported('lz4')).toBe(true);
    expect(compressionSupported('zstd')).toBe(true);
  });

  it.each(['lz4', 'zstd'] as const)('%s round trip through the stages', async (algorithm) => {
    const data = sample(3_000_000);
    const packed = new CollectingByteSink();
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += 32 * 1024) pieces.push(data.subarray(i, i + 32 * 1024));
    await feed(createCompressor({ algorithm, level: algorithm === 'zstd' ? 3 : 0 }, packed), pieces);
    expect(packed.finished).toBe(true);
    expect(packed.bytes.length).toBeLessThan(data.length / 2);
    const unpacked = new CollectingByteSink();
    await feed(createDecompressor(algorithm, unpacked), [packed.bytes]);
    expect(unpacked.bytes.equals(data)).toBe(true);
  });

  it.each(['lz4', 'zstd'] as const)("%s: corrupt input is reported with pg's prefix", async (algorithm) => {
    let err: unknown;
    try {
      await feed(createDecompressor(algorithm, new CollectingByteSink()), [Buffer.from('definitely not compressed data')]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^could not decompress data: /);
    expect(err).not.toBeInstanceOf(UsageError);
  });
});
