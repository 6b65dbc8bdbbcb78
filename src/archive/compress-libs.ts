/**
 * The compression libraries beyond node:zlib, loaded on first use (native add-ons cost start-up time
 * and may be missing on a platform without a prebuilt binary: then the algorithm is simply not
 * supported, as in a pg build without it).
 *
 * - lz4-napi (lz4_flex, prebuilt Node-API binaries as per-platform npm packages): LZ4 block
 *   compression; the frame format around it is ours (compress-lz4-frame.ts), and so is decoding.
 * - @mongodb-js/zstd 1.x (libzstd through napi-rs, prebuilt per-platform npm packages): one zstd
 *   frame per chunk, compressed on libuv's thread pool, so that several chunks can be compressed at
 *   once (zstd's `workers`).
 * - fzstd (pure JavaScript): streaming zstd decompression with bounded memory.
 */
import { createRequire } from 'node:module';

export interface Lz4Lib {
  /** lz4_flex's compress_prepend_size: 4 bytes of little-endian input size, then the LZ4 block. */
  compressSync(data: Buffer): Buffer;
}

export interface ZstdLib {
  compress(data: Buffer, level?: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

export interface FzstdDecompress {
  push(chunk: Uint8Array, final?: boolean): void;
}

export interface FzstdLib {
  Decompress: new (ondata: (data: Uint8Array, final?: boolean) => unknown) => FzstdDecompress;
}

const require = createRequire(import.meta.url);
const cache = new Map<string, unknown>();

function load<T>(name: string): T | undefined {
  if (!cache.has(name)) {
    let lib: unknown;
    try {
      lib = require(name);
    } catch {
      lib = undefined;
    }
    cache.set(name, lib);
  }
  return cache.get(name) as T | undefined;
}

export function lz4Lib(): Lz4Lib | undefined {
  return load<Lz4Lib>('lz4-napi');
}

/**
 * The package's napi bindings themselves: its index.js wrapper drops the level argument (1.2.2), so
 * every level would compress as level 3.
 */
export function zstdLib(): ZstdLib | undefined {
  return load<ZstdLib>('@mongodb-js/zstd/bindings');
}

export function fzstdLib(): FzstdLib | undefined {
  return load<FzstdLib>('fzstd');
}
