/**
 * The LZ4 frame codec (lz4-frame.ts, lz4-block.ts, xxh32.ts, lz4-stage.ts)
 * against independent implementations: the lz4 command-line tool when installed (every frame option
 * liblz4 has: linked blocks as PostgreSQL's server writes them, block sizes, checksums, content
 * size), and lz4-napi's own frame decoder (lz4_flex) otherwise.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Lz4FormatError, Lz4FrameDecoder, Lz4FrameEncoder, ENCODER_BLOCK_SIZE } from '../../../src/compression/lz4-frame.js';
import { xxh32 } from '../../../src/compression/xxh32.js';
import { lz4Lib } from '../../../src/compression/libs.js';
import { lz4BlockCompressor } from '../../../src/compression/lz4-stage.js';
import { feedings, sample } from '../archive/helpers.js';

const require = createRequire(import.meta.url);
const lz4napi = require('lz4-napi') as { decompressFrameSync(b: Buffer): Buffer; compressFrameSync(b: Buffer, o?: { contentChecksum?: boolean; blockChecksums?: boolean }): Buffer };
const LZ4_CLI = spawnSync('lz4', ['--version']).status === 0 ? 'lz4' : undefined;
if (!LZ4_CLI) console.log('skipping "lz4 tool" cases by name: the lz4 command-line tool is not installed');

function decode(pieces: Buffer[]): Buffer {
  const d = new Lz4FrameDecoder();
  const out: Buffer[] = [];
  for (const p of pieces) out.push(...d.push(p));
  d.finish();
  return Buffer.concat(out);
}

function encode(data: Buffer, pieceSize = 32 * 1024): Buffer {
  const lib = lz4Lib();
  if (!lib) throw new Error('lz4-napi not loadable');
  const e = new Lz4FrameEncoder(lz4BlockCompressor(lib));
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += pieceSize) out.push(...e.push(data.subarray(i, i + pieceSize)));
  out.push(...e.finish());
  return Buffer.concat(out);
}

function cli(args: string[], input: Buffer): Buffer {
  const r = spawnSync(LZ4_CLI as string, args, { input, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`lz4 ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

describe('xxh32', () => {
  it('matches the reference values', () => {
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxh32(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxh32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });
});

describe('LZ4 frame encoder', () => {
  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['less than a block', 100_000],
    ['exactly one block', ENCODER_BLOCK_SIZE],
    ['several blocks', 3 * ENCODER_BLOCK_SIZE + 12345],
  ])('%s: lz4_flex decodes it, and so does our decoder', (_name, n) => {
    const data = sample(n);
    const packed = encode(data);
    expect(lz4napi.decompressFrameSync(packed).equals(data)).toBe(true);
    expect(decode([packed]).equals(data)).toBe(true);
  });

  it('stores incompressible blocks uncompressed', () => {
    const data = Buffer.alloc(ENCODER_BLOCK_SIZE + 10);
    let x = 7;
    for (let i = 0; i < data.length; i++) data[i] = (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 24;
    const packed = encode(data);
    expect(packed.length).toBeLessThan(data.length + 40);
    expect((packed.readUInt32LE(7) & 0x80000000) !== 0).toBe(true);
    expect(decode([packed]).equals(data)).toBe(true);
  });

  it.runIf(LZ4_CLI !== undefined)('lz4 tool: decodes our frames', () => {
    const data = sample(2_500_000);
    expect(cli(['-d', '-c'], encode(data, 7777)).equals(data)).toBe(true);
  });
});

describe('LZ4 frame decoder', () => {
  const small = sample(3000);

  it('decodes however the input is cut', () => {
    const packed = lz4napi.compressFrameSync(small, { contentChecksum: true, blockChecksums: true });
    for (const [name, pieces] of feedings(packed)) {
      if (!decode(pieces).equals(small)) expect.fail(name);
    }
  });

  it('decodes concatenated and skippable frames', () => {
    const a = sample(70_000, 2);
    const b = sample(5000, 3);
    const skippable = Buffer.concat([Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from('xyz')]);
    const packed = Buffer.concat([encode(a), skippable, lz4napi.compressFrameSync(b)]);
    for (const cut of [1, 5, 9, 4096]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < packed.length; i += cut) pieces.push(packed.subarray(i, i + cut));
      expect(decode(pieces).equals(Buffer.concat([a, b]))).toBe(true);
    }
  });

  it.runIf(LZ4_CLI !== undefined).each([
    ['linked 64 kB blocks (as PostgreSQL writes them)', ['-BD', '-B4']],
    ['linked 256 kB blocks', ['-BD', '-B5']],
    ['independent 4 MB blocks, level 9 (HC)', ['-B7', '-9']],
    ['block checksums and content size', ['-BX', '--content-size', '-B4']],
    ['no content checksum', ['--no-frame-crc', '-BD']],
  ])('lz4 tool: %s', (_name, args) => {
    const data = sample(1_500_000, 9);
    const packed = cli(['-c', ...args], data);
    const pieces: Buffer[] = [];
    for (let i = 0; i < packed.length; i += 32 * 1024) pieces.push(packed.subarray(i, i + 32 * 1024));
    expect(decode(pieces).equals(data)).toBe(true);
  });

  it.each([
    ['not LZ4 at all', Buffer.from('hello world, not lz4'), 'unknown LZ4 frame header'],
    ['a legacy frame', Buffer.from([0x02, 0x21, 0x4c, 0x18, 0, 0, 0, 0]), 'legacy LZ4 frames are not supported'],
  ])('rejects %s', (_name, input, message) => {
    expect(() => decode([input])).toThrow(new Lz4FormatError(message));
  });

  it('rejects truncated and damaged frames', () => {
    const packed = lz4napi.compressFrameSync(small, { contentChecksum: true, blockChecksums: true });
    expect(() => decode([packed.subarray(0, packed.length - 3)])).toThrow('unexpected end of LZ4 data');
    expect(() => decode([Buffer.alloc(0)])).toThrow('empty input');
    const badHeader = Buffer.from(packed);
    badHeader[6] = (badHeader[6] as number) ^ 0xff;
    expect(() => decode([badHeader])).toThrow('LZ4 frame header checksum mismatch');
    const badData = Buffer.from(packed);
    badData[20] = (badData[20] as number) ^ 0x55;
    expect(() => decode([badData])).toThrow(Lz4FormatError);
  });

  it('never reads or writes out of bounds on corrupt blocks', () => {
    const packed = encode(sample(200_000));
    for (let i = 11; i < 200; i += 3) {
      const bad = Buffer.from(packed);
      bad[i] = (bad[i] as number) ^ 0xa5;
      try {
        decode([bad]);
      } catch (e) {
        expect(e).toBeInstanceOf(Lz4FormatError);
      }
    }
  });
});
