/**
 * Compression stages of the archive chain (astreamer_gzip.c, astreamer_lz4.c, astreamer_zstd.c).
 *
 * gzip comes from node:zlib.  zstd is used when the running Node.js has it (node:zlib's
 * createZstdCompress, 22.15+ / 23.8+).  lz4 has no implementation in Node.js: asking for it fails
 * with PostgreSQL's "this build does not support compression with %s", as a pg build without lz4
 * does.
 */
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { UsageError } from '../errors.js';
import type { ByteSink } from './streamer.js';
import { ZlibStage } from './zlib-stage.js';

export type CompressionAlgorithm = 'none' | 'gzip' | 'lz4' | 'zstd';

export interface CompressionSpec {
  algorithm: CompressionAlgorithm;
  /** Level as given with -Z (gzip 1-9, zstd min..max); undefined for the library default. */
  level?: number | undefined;
  /** zstd worker threads (accepted; node:zlib's zstd parameters are used when present). */
  workers?: number | undefined;
  /** zstd long-distance mode. */
  long?: boolean | undefined;
}

/** Size of zlib's output pieces: the server's data messages are at most 32 kB. */
const ZLIB_CHUNK_BYTES = 256 * 1024;

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

interface ZstdZlib {
  createZstdCompress(options?: { chunkSize?: number; params?: Record<number, number | boolean> }): Transform;
  createZstdDecompress(options?: { chunkSize?: number }): Transform;
  constants: Record<string, number>;
}

function zstdZlib(): ZstdZlib | undefined {
  const z = zlib as unknown as Partial<ZstdZlib>;
  return typeof z.createZstdCompress === 'function' && typeof z.createZstdDecompress === 'function'
    ? (z as ZstdZlib)
    : undefined;
}

/** Whether this runtime can compress and decompress with `algorithm`. */
export function compressionSupported(algorithm: CompressionAlgorithm): boolean {
  if (algorithm === 'lz4') return false;
  if (algorithm === 'zstd') return zstdZlib() !== undefined;
  return true;
}

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
      const level = spec.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
      return new ZlibStage(zlib.createGzip({ level, chunkSize: ZLIB_CHUNK_BYTES }), next, 'could not compress data');
    }
    case 'zstd': {
      const z = zstdZlib();
      if (z === undefined) throw unsupportedCompression('zstd');
      const params: Record<number, number | boolean> = {};
      const c = z.constants;
      if (spec.level !== undefined && c.ZSTD_c_compressionLevel !== undefined) params[c.ZSTD_c_compressionLevel] = spec.level;
      if (spec.workers !== undefined && c.ZSTD_c_nbWorkers !== undefined) params[c.ZSTD_c_nbWorkers] = spec.workers;
      if (spec.long && c.ZSTD_c_enableLongDistanceMatching !== undefined) params[c.ZSTD_c_enableLongDistanceMatching] = 1;
      return new ZlibStage(z.createZstdCompress({ chunkSize: ZLIB_CHUNK_BYTES, params }), next, 'could not compress data');
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
      return new ZlibStage(zlib.createGunzip({ chunkSize: ZLIB_CHUNK_BYTES }), next, 'could not decompress data');
    case 'zstd': {
      const z = zstdZlib();
      if (z === undefined) throw unsupportedCompression('zstd');
      return new ZlibStage(z.createZstdDecompress({ chunkSize: ZLIB_CHUNK_BYTES }), next, 'could not decompress data');
    }
    default:
      throw unsupportedCompression(algorithm);
  }
}
