/**
 * -Ft -R on a server-compressed base archive (beyond pg, reference §5.5): the chain decompresses it,
 * injects the recovery settings and compresses it again with the same algorithm, under the server's
 * archive name, with the level given to -Z server-ALG:LEVEL.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createArchiveChain } from '../../../src/archive/create-chain.js';
import { createCompressor, createDecompressor, type CompressionAlgorithm } from '../../../src/compression/compression.js';
import { serverRecompressionOptions } from '../../../src/options/compression-spec.js';
import { CollectingByteSink, feed, fixture, tarStreamEntries } from '../archive/helpers.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-recompress-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const R = "primary_conninfo = 'host=primary'\n";
const SUFFIX = { gzip: '.gz', lz4: '.lz4', zstd: '.zst' } as const;

async function compress(algorithm: CompressionAlgorithm, data: Buffer): Promise<Buffer> {
  const out = new CollectingByteSink();
  await feed(createCompressor({ algorithm }, out), [data]);
  return out.bytes;
}

async function decompress(algorithm: CompressionAlgorithm, data: Buffer): Promise<Buffer> {
  const out = new CollectingByteSink();
  await feed(createDecompressor(algorithm, out), [data]);
  return out.bytes;
}

async function runChain(algorithm: 'gzip' | 'lz4' | 'zstd', packed: Buffer, detail: string | undefined): Promise<string> {
  const name = `base.tar${SUFFIX[algorithm]}`;
  const handle = createArchiveChain(
    { format: 'tar', isBase: true, archiveName: name, toStdout: false, injectRecovery: R, injectManifest: false, serverCompression: algorithm, clientCompression: 'none' },
    { baseDir: tmp, dataDirMode: 0o700, recompressionSpec: serverRecompressionOptions({ algorithm, detail }), now: () => 1_700_000_000 },
  );
  const pieces: Buffer[] = [];
  for (let i = 0; i < packed.length; i += 1000) pieces.push(packed.subarray(i, i + 1000));
  await feed(handle.head, pieces);
  expect(handle.outputPath).toBe(join(tmp, name));
  return handle.outputPath as string;
}

describe('-Ft -R with server compression', () => {
  const tar = fixture('pg15-base-excerpt.tar');

  it.each(['gzip', 'lz4', 'zstd'] as const)('%s: the archive keeps its name and compression and gains the recovery settings', async (algorithm) => {
    const path = await runChain(algorithm, await compress(algorithm, tar), undefined);
    const plain = await decompress(algorithm, readFileSync(path));
    const entries = await tarStreamEntries(plain);
    const names = entries.map((e) => e.name);
    const original = (await tarStreamEntries(tar)).map((e) => e.name);
    // every original member is still there, in order, and standby.signal is injected
    expect(names.filter((n) => original.includes(n))).toEqual(original.filter((n) => n !== 'standby.signal'));
    expect(names).toContain('standby.signal');
    const auto = entries.find((e) => e.name === 'postgresql.auto.conf');
    expect(auto?.data.toString('utf8').endsWith(R)).toBe(true);
  });

  it('uses the level of -Z server-gzip:LEVEL (the gzip header says how hard it tried)', async () => {
    const packed = gzipSync(tar);
    const fast = readFileSync(await runChain('gzip', packed, '1'));
    expect(fast[8]).toBe(4); // XFL: fastest
    rmSync(join(tmp, 'base.tar.gz'));
    const best = readFileSync(await runChain('gzip', packed, 'level=9'));
    expect(best[8]).toBe(2); // XFL: maximum compression
    expect(gunzipSync(best).equals(gunzipSync(fast))).toBe(true);
  });

  it('falls back to the defaults when the server detail is not one this client understands', () => {
    expect(serverRecompressionOptions({ algorithm: 'zstd', detail: 'level=7,workers=2,long' })).toEqual({ level: 7, workers: 2, long: true });
    expect(serverRecompressionOptions({ algorithm: 'zstd', detail: undefined })).toEqual({ level: 3, workers: undefined, long: undefined });
    expect(serverRecompressionOptions({ algorithm: 'gzip', detail: undefined })).toEqual({ level: undefined, workers: undefined, long: undefined });
    expect(serverRecompressionOptions({ algorithm: 'lz4', detail: 'turkey' })).toEqual({});
    expect(serverRecompressionOptions({ algorithm: 'gzip', detail: '99' })).toEqual({});
    expect(serverRecompressionOptions({ algorithm: 'none', detail: undefined })).toEqual({});
    expect(serverRecompressionOptions(undefined)).toEqual({});
  });
});
