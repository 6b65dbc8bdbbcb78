/**
 * The compression libraries beyond node:zlib, loaded on first use (native add-ons cost start-up time
 * and may be missing on a platform without a prebuilt binary: then the algorithm is simply not
 * supported, as in a pg build without it).
 *
 * - lz4-napi (lz4_flex, prebuilt Node-API binaries as per-platform npm packages): LZ4 block
 *   compression; the frame format around it is ours (lz4-frame.ts), and so is decoding.
 * - @mongodb-js/zstd 1.x (libzstd through napi-rs, prebuilt per-platform npm packages): one zstd
 *   frame per chunk, compressed on libuv's thread pool, so that several chunks can be compressed at
 *   once (zstd's `workers`).
 * - fzstd (pure JavaScript): streaming zstd decompression with bounded memory.
 *
 * Where the runtime has zstd in node:zlib (Node.js 22.15, 23.8 and later: 24 is what operators run;
 * nodeZstd), it decompresses instead of fzstd: libzstd as a stream, measured on Node 24 with a 490 MB
 * pgbench base.tar at level 1, 825 MB/s out against 284, and a third of the CPU.  It compresses only
 * where @mongodb-js/zstd is missing: the same frames on the same thread pool, but with 25-70% more CPU.
 */
import { optionalPackage, zlibModule } from '../lazy-builtins.js';

export interface Lz4Lib {
  /** lz4_flex's compress_prepend_size: 4 bytes of little-endian input size, then the LZ4 block. */
  compressSync(data: Buffer): Buffer;
}

/** What the zstd compressor stage needs: one zstd frame of `data`. */
export interface ZstdCompressor {
  compress(data: Buffer, level?: number): Promise<Buffer>;
}

export interface ZstdLib extends ZstdCompressor {
  decompress(data: Buffer): Promise<Buffer>;
}

export interface FzstdDecompress {
  push(chunk: Uint8Array, final?: boolean): void;
}

export interface FzstdLib {
  Decompress: new (ondata: (data: Uint8Array, final?: boolean) => unknown) => FzstdDecompress;
}

export function lz4Lib(): Lz4Lib | undefined {
  return optionalPackage<Lz4Lib>('lz4-napi');
}

/**
 * The package's napi bindings themselves: its index.js wrapper drops the level argument (1.2.2), so
 * every level would compress as level 3.
 */
export function zstdLib(): ZstdLib | undefined {
  return optionalPackage<ZstdLib>('@mongodb-js/zstd/bindings');
}

export function fzstdLib(): FzstdLib | undefined {
  return optionalPackage<FzstdLib>('fzstd');
}

/** node:zlib's zstd, where this runtime has it. */
export interface NodeZstd extends ZstdCompressor {
  /** A streaming decompressor (a Transform), with output pieces of `chunkSize` bytes. */
  createDecompress(chunkSize: number): import('node:stream').Transform;
}

/** The zstd parts of node:zlib; absent from Node.js 20 (and from @types/node 20). */
interface ZlibZstd {
  zstdCompress(data: Buffer, options: { params: Record<number, number>; chunkSize: number }, cb: (err: Error | null, out: Buffer) => void): void;
  createZstdDecompress(options: { chunkSize: number }): import('node:stream').Transform;
  constants: { ZSTD_c_compressionLevel: number };
}

let nodeZstdCache: NodeZstd | null | undefined;

/** zstd from node:zlib (Node.js 22.15 / 23.8 and later), or undefined on a runtime without it. */
export function nodeZstd(): NodeZstd | undefined {
  if (nodeZstdCache === undefined) {
    const z = zlibModule() as unknown as Partial<ZlibZstd>;
    if (typeof z.zstdCompress !== 'function' || typeof z.createZstdDecompress !== 'function') {
      nodeZstdCache = null;
    } else {
      const { zstdCompress, createZstdDecompress } = z as ZlibZstd;
      const { ZSTD_c_compressionLevel } = (z as ZlibZstd).constants;
      nodeZstdCache = {
        compress: (data, level) =>
          new Promise((resolve, reject) => {
            const params: Record<number, number> = {};
            if (level !== undefined) params[ZSTD_c_compressionLevel] = level;
            // One output buffer for the whole frame (zlib's default, 16 kB pieces, costs a round trip each).
            zstdCompress(data, { params, chunkSize: Math.max(64 * 1024, data.length + 1024) }, (err, out) => (err ? reject(err) : resolve(out)));
          }),
        createDecompress: (chunkSize) => createZstdDecompress({ chunkSize }),
      };
    }
  }
  return nodeZstdCache ?? undefined;
}
