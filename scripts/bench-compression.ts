/**
 * Throughput of the compression stages as the backup uses them: 32 kB pieces (the server's message
 * size) through a compressor or decompressor stage into a null sink.  Prints MB/s of uncompressed
 * data and the ratio.
 *
 *   npx tsx scripts/bench-compression.ts [file]      (default: 64 MB of generated table-like data)
 *
 * A real archive is a better input: e.g. base.tar of `pgbench -i -s 10`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createCompressor, createDecompressor, type CompressionAlgorithm, type CompressionSpec } from '../src/compression/compression.js';
import type { ByteSink } from '../src/archive/streamer.js';

function generated(size: number): Buffer {
  const out = Buffer.alloc(size);
  let pos = 0;
  for (let i = 0; pos < size; i++) {
    if (i % 400 === 399) {
      pos += randomBytes(Math.min(8192, size - pos)).copy(out, pos); // an incompressible page now and then
      continue;
    }
    const row = `${i}\t${createHash('md5').update(String(i)).digest('hex')}\t${i % 1000}\tsome filler text ${i % 17}\n`;
    pos += out.write(row, pos);
  }
  return out;
}

class Sink implements ByteSink {
  pieces: Buffer[] = [];
  bytes = 0;
  constructor(private readonly keep: boolean) {}
  write(b: Buffer): void {
    this.bytes += b.length;
    if (this.keep) this.pieces.push(b);
  }
  async finish(): Promise<void> {}
  async abort(): Promise<void> {}
}

async function run(stage: ByteSink, data: Buffer): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < data.length; i += 32 * 1024) {
    const r = stage.write(data.subarray(i, i + 32 * 1024));
    if (r !== undefined) await r;
  }
  await stage.finish();
  return (performance.now() - t) / 1000;
}

const input = process.argv[2] !== undefined ? readFileSync(process.argv[2]) : generated(64 * 1024 * 1024);
const mb = input.length / 1048576;
console.log(`input: ${process.argv[2] ?? 'generated'}, ${mb.toFixed(1)} MB; node ${process.version}`);

const cases: [string, CompressionSpec][] = [
  ['gzip (default level)', { algorithm: 'gzip' }],
  ['gzip level 1', { algorithm: 'gzip', level: 1 }],
  ['lz4', { algorithm: 'lz4' }],
  ['zstd level 3', { algorithm: 'zstd', level: 3 }],
  ['zstd level 3, workers=2', { algorithm: 'zstd', level: 3, workers: 2 }],
  ['zstd level 3, workers=4', { algorithm: 'zstd', level: 3, workers: 4 }],
  ['zstd level 9', { algorithm: 'zstd', level: 9 }],
];
const packedBy = new Map<CompressionAlgorithm, Buffer>();
for (const [name, spec] of cases) {
  let best = Infinity;
  let packed = Buffer.alloc(0);
  for (let round = 0; round < 3; round++) {
    const sink = new Sink(true);
    best = Math.min(best, await run(createCompressor(spec, sink), input));
    packed = Buffer.concat(sink.pieces);
  }
  if (!packedBy.has(spec.algorithm)) packedBy.set(spec.algorithm, packed);
  console.log(`compress   ${name.padEnd(26)} ${(mb / best).toFixed(0).padStart(5)} MB/s  ratio ${(packed.length / input.length).toFixed(3)}`);
}
for (const [alg, packed] of packedBy) {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const sink = new Sink(false);
    best = Math.min(best, await run(createDecompressor(alg, sink), packed));
    if (sink.bytes !== input.length) throw new Error(`${alg}: decompressed ${sink.bytes} bytes, expected ${input.length}`);
  }
  console.log(`decompress ${alg.padEnd(26)} ${(mb / best).toFixed(0).padStart(5)} MB/s`);
}
