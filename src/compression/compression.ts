/**
 * Compression stages of the archive chain (astreamer_gzip.c, astreamer_lz4.c, astreamer_zstd.c).
 *
 * gzip comes from node:zlib; lz4 and zstd from the libraries of libs.ts (lz4-stage.ts,
 * zstd-stage.ts); zstd is decompressed by node:zlib where the runtime has it (Node.js 22.15 / 23.8 and
 * later), which compresses too where the zstd library is missing.  An algorithm whose library cannot
 * be loaded fails with PostgreSQL's "this build does not support compression with %s", as a pg build
 * without it does.
 */
import type { ByteSink } from '../archive/streamer.js';
import { UsageError } from '../errors.js';
import { zlibModule } from '../lazy-builtins.js';
import type { CompressionSupport } from '../options/compression-spec.js';
import { fzstdLib, lz4Lib, nodeZstd, zstdLib } from './libs.js';
import { createLz4Compressor, createLz4Decompressor } from './lz4-stage.js';
import { ZlibStage } from './zlib-stage.js';
import { createZstdDecompressor, ZstdCompressStage } from './zstd-stage.js';

export type CompressionAlgorithm = 'none' | 'gzip' | 'lz4' | 'zstd';

export interface CompressionSpec {
  algorithm: CompressionAlgorithm;
  /** Level as given with -Z (gzip 1-9, zstd min..max); undefined for the library default. */
  level?: number | undefined;
  /** zstd: how many chunks may be compressed at once, each on a thread (zstd-stage.ts). */
  workers?: number | undefined;
  /** zstd long-distance mode (accepted, no effect: see zstd-stage.ts). */
  long?: boolean | undefined;
}

/** Size of zlib's output pieces: the server's data messages are at most 32 kB. */
const ZLIB_CHUNK_BYTES = 256 * 1024;
/** libzstd's ZSTD_CLEVEL_DEFAULT. */
const ZSTD_DEFAULT_LEVEL = 3;

/** File name suffix of an archive compressed with `algorithm`. */
export function compressionSuffix(algorithm: CompressionAlgorithm): string {
  switch (algorithm) {
    case 'gzip':
      return '.gz';
    case 'lz4':
      return '.lz4';
    case 'zstd':
      return '.zst';
    default:
      return '';
  }
}

/** The compression of an archive, from its name, as CreateBackupStreamer() tells it. */
export function archiveCompression(archiveName: string): CompressionAlgorithm | undefined {
  const n = archiveName.length;
  if (n > 4 && archiveName.endsWith('.tar')) return 'none';
  if (n > 7 && archiveName.endsWith('.tar.gz')) return 'gzip';
  if (n > 8 && archiveName.endsWith('.tar.lz4')) return 'lz4';
  if (n > 8 && archiveName.endsWith('.tar.zst')) return 'zstd';
  return undefined;
}

/** Whether this runtime can compress and decompress with `algorithm`. */
export function compressionSupported(algorithm: CompressionAlgorithm): boolean {
  if (algorithm === 'lz4') return lz4Lib() !== undefined;
  if (algorithm === 'zstd') return nodeZstd() !== undefined || (zstdLib() !== undefined && fzstdLib() !== undefined);
  return true;
}

/** The CompressionSupport of this build, for the command line (compression-spec.ts). */
export const runtimeCompressionSupport: CompressionSupport = (algorithm) => compressionSupported(algorithm);

/** PostgreSQL's message when a build lacks a compression library. */
export function unsupportedCompression(algorithm: CompressionAlgorithm): UsageError {
  return new UsageError(`this build does not support compression with ${algorithm}`);
}

/** A stage compressing bytes into `next`. */
export function createCompressor(spec: CompressionSpec, next: ByteSink): ByteSink {
  switch (spec.algorithm) {
    case 'none':
      return next;
    case 'gzip': {
      const zlib = zlibModule();
      const level = spec.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
      return new ZlibStage(zlib.createGzip({ level, chunkSize: ZLIB_CHUNK_BYTES }), next, 'could not compress data');
    }
    case 'lz4': {
      const lib = lz4Lib();
      if (lib === undefined) throw unsupportedCompression('lz4');
      return createLz4Compressor(lib, next);
    }
    case 'zstd': {
      // @mongodb-js/zstd compresses with less CPU than node:zlib's zstd (libs.ts).
      const lib = zstdLib() ?? nodeZstd();
      if (lib === undefined) throw unsupportedCompression('zstd');
      return new ZstdCompressStage(lib, { level: spec.level ?? ZSTD_DEFAULT_LEVEL, workers: spec.workers }, next);
    }
    default:
      throw unsupportedCompression(spec.algorithm);
  }
}

/** A stage decompressing bytes into `next`. */
export function createDecompressor(algorithm: CompressionAlgorithm, next: ByteSink): ByteSink {
  switch (algorithm) {
    case 'none':
      return next;
    case 'gzip':
      return new ZlibStage(zlibModule().createGunzip({ chunkSize: ZLIB_CHUNK_BYTES }), next, 'could not decompress data');
    case 'lz4':
      return createLz4Decompressor(next);
    case 'zstd': {
      const own = nodeZstd();
      if (own !== undefined) return new ZlibStage(own.createDecompress(ZLIB_CHUNK_BYTES), next, 'could not decompress data');
      const lib = fzstdLib();
      if (lib === undefined) throw unsupportedCompression('zstd');
      return createZstdDecompressor(lib, next);
    }
    default:
      throw unsupportedCompression(algorithm);
  }
}
