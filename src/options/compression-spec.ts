/**
 * `-z`, `-Z/--compress=[client-|server-]ALG[:DETAIL]`: pg_basebackup's backup_parse_compress_options()
 * plus src/common/compression.c (parse_compress_options, parse_compress_algorithm,
 * parse_compress_specification, validate_compress_specification) as of PostgreSQL 16/17.
 */
import { UsageError } from '../errors.js';
import { strtol } from './c-strto.js';

export type CompressionAlgorithm = 'none' | 'gzip' | 'lz4' | 'zstd';

/** pg's CompressionLocation: where the user asked compression to happen. */
export type CompressionLocation = 'client' | 'server' | 'unspecified';

/** The -z/-Z request as written: pg's (compression_algorithm, compression_detail, compressloc). */
export interface CompressionSpec {
  location: CompressionLocation;
  /** The name as given; only checked when compressing on the client ("turkey" goes to the server as is). */
  algorithm: string;
  /** Text after the first ':' (or a bare integer), undefined if none. */
  detail: string | undefined;
}

/** pg_compress_specification, for compression done by this client. */
export interface CompressSpecification {
  algorithm: CompressionAlgorithm;
  /** Z_DEFAULT_COMPRESSION (-1) for gzip, 0 (fast mode) for lz4, 3 for zstd unless given. */
  level: number;
  /** Set only when given (PG_COMPRESSION_OPTION_WORKERS). */
  workers?: number;
  /** Set only when given (PG_COMPRESSION_OPTION_LONG_DISTANCE). */
  longDistance?: boolean;
}

/** Whether this build can compress with an algorithm on the client side. */
export type CompressionSupport = (algorithm: Exclude<CompressionAlgorithm, 'none'>) => boolean;

/**
 * gzip only: the default of this pure module.  The CLI passes runtimeCompressionSupport
 * (compression/compression.ts), which adds lz4 and zstd when their libraries load.
 */
export const defaultCompressionSupport: CompressionSupport = (algorithm) => algorithm === 'gzip';

export const Z_DEFAULT_COMPRESSION = -1;
/** libzstd 1.5's ZSTD_minCLevel(), ZSTD_maxCLevel() and ZSTD_CLEVEL_DEFAULT. */
export const ZSTD_MIN_CLEVEL = -131072;
export const ZSTD_MAX_CLEVEL = 22;
export const ZSTD_CLEVEL_DEFAULT = 3;

/** What -z sets: gzip at its default level, location unspecified. */
export const GZIP_COMPRESSION: Readonly<CompressionSpec> = { location: 'unspecified', algorithm: 'gzip', detail: undefined };
/** No -z/-Z at all. */
export const NO_COMPRESSION: Readonly<CompressionSpec> = { location: 'unspecified', algorithm: 'none', detail: undefined };

/**
 * Split a -Z value (backup_parse_compress_options): strip a `client-`/`server-` prefix, then a bare
 * integer means gzip at that level, except 0 (and the empty string) which mean none; otherwise the
 * algorithm runs up to the first ':' and the detail follows it.  Never fails.
 */
export function parseCompressOptions(option: string): CompressionSpec {
  let location: CompressionLocation = 'unspecified';
  let rest = option;
  if (rest.startsWith('server-')) {
    location = 'server';
    rest = rest.slice(7);
  } else if (rest.startsWith('client-')) {
    location = 'client';
    rest = rest.slice(7);
  }
  const n = strtol(rest);
  if (n.end === rest.length) {
    // the whole string is an integer, or empty
    return n.exact === 0n
      ? { location, algorithm: 'none', detail: undefined }
      : { location, algorithm: 'gzip', detail: rest };
  }
  const colon = rest.indexOf(':');
  return colon < 0
    ? { location, algorithm: rest, detail: undefined }
    : { location, algorithm: rest.slice(0, colon), detail: rest.slice(colon + 1) };
}

/** parse_compress_algorithm(). */
export function parseCompressAlgorithm(name: string): CompressionAlgorithm | undefined {
  return name === 'none' || name === 'gzip' || name === 'lz4' || name === 'zstd' ? name : undefined;
}

/** The result of parse_compress_specification(): the specification and its parse_error, if any. */
export interface ParsedCompressSpecification {
  spec: CompressSpecification;
  parseError: string | undefined;
}

const BUILD_NAMES = { gzip: 'gzip', lz4: 'LZ4', zstd: 'ZSTD' } as const;

/** strtol() result truncated to a C int, as `int x = strtol(...)` does (LONG_MAX becomes -1). */
function cInt(value: bigint): number {
  return Number(BigInt.asIntN(32, value));
}

function integerValue(keyword: string, value: string | undefined): number | string {
  if (value === undefined) return `compression option "${keyword}" requires a value`;
  const n = strtol(value);
  if (n.end === 0 || n.end !== value.length) return `value for compression option "${keyword}" must be an integer`;
  return cInt(n.exact);
}

function booleanValue(keyword: string, value: string | undefined): boolean | string {
  if (value === undefined) return true;
  const v = value.replace(/[A-Z]/g, (ch) => ch.toLowerCase()); // pg_strcasecmp: ASCII only
  if (v === 'yes' || v === 'on' || v === '1') return true;
  if (v === 'no' || v === 'off' || v === '0') return false;
  return `value for compression option "${keyword}" must be a Boolean value`;
}

/** parse_compress_specification(): a bare integer level, or `keyword[=value]` items separated by ','. */
export function parseCompressSpecification(
  algorithm: CompressionAlgorithm,
  detail: string | undefined,
  support: CompressionSupport = defaultCompressionSupport,
): ParsedCompressSpecification {
  const spec: CompressSpecification = { algorithm, level: 0 };
  let parseError: string | undefined;
  if (algorithm !== 'none') {
    if (!support(algorithm)) parseError = `this build does not support compression with ${BUILD_NAMES[algorithm]}`;
    else spec.level = algorithm === 'gzip' ? Z_DEFAULT_COMPRESSION : algorithm === 'zstd' ? ZSTD_CLEVEL_DEFAULT : 0;
  }
  if (detail === undefined) return { spec, parseError };

  const bare = strtol(detail);
  if (bare.end !== 0 && bare.end === detail.length) {
    spec.level = cInt(bare.exact);
    return { spec, parseError };
  }
  let pos = 0;
  for (;;) {
    let kwEnd = pos;
    while (kwEnd < detail.length && detail[kwEnd] !== ',' && detail[kwEnd] !== '=') kwEnd++;
    const keyword = detail.slice(pos, kwEnd);
    let value: string | undefined;
    let end = kwEnd; // where this item ends: at the end of the value if there is one
    if (detail[kwEnd] === '=') {
      end = kwEnd + 1;
      while (end < detail.length && detail[end] !== ',') end++;
      value = detail.slice(kwEnd + 1, end);
    }
    if (keyword === '') {
      parseError = 'found empty string where a compression option was expected';
      break;
    }
    if (keyword === 'level') {
      const v = integerValue(keyword, value);
      if (typeof v === 'string') {
        parseError = v;
        spec.level = -1;
      } else spec.level = v;
    } else if (keyword === 'workers') {
      const v = integerValue(keyword, value);
      if (typeof v === 'string') {
        parseError = v;
        spec.workers = -1;
      } else spec.workers = v;
    } else if (keyword === 'long') {
      const v = booleanValue(keyword, value);
      if (typeof v === 'string') {
        parseError = v;
        spec.longDistance = false;
      } else spec.longDistance = v;
    } else {
      parseError = `unrecognized compression option: "${keyword}"`;
    }
    if (parseError !== undefined || end >= detail.length) break;
    pos = end + 1;
  }
  return { spec, parseError };
}

/** validate_compress_specification(): undefined if sensible, else the error text. */
export function validateCompressSpecification(parsed: ParsedCompressSpecification): string | undefined {
  if (parsed.parseError !== undefined) return parsed.parseError;
  const { spec } = parsed;
  let min = 1;
  let max = 1;
  let dflt = 0;
  switch (spec.algorithm) {
    case 'gzip':
      max = 9;
      dflt = Z_DEFAULT_COMPRESSION;
      break;
    case 'lz4':
      max = 12;
      break;
    case 'zstd':
      min = ZSTD_MIN_CLEVEL;
      max = ZSTD_MAX_CLEVEL;
      dflt = ZSTD_CLEVEL_DEFAULT;
      break;
    case 'none':
      if (spec.level !== 0) return `compression algorithm "none" does not accept a compression level`;
      break;
  }
  if ((spec.level < min || spec.level > max) && spec.level !== dflt) {
    return `compression algorithm "${spec.algorithm}" expects a compression level between ${min} and ${max} (default at ${dflt})`;
  }
  if (spec.workers !== undefined && spec.algorithm !== 'zstd') {
    return `compression algorithm "${spec.algorithm}" does not accept a worker count`;
  }
  if (spec.longDistance !== undefined && spec.algorithm !== 'zstd') {
    return `compression algorithm "${spec.algorithm}" does not support long-distance mode`;
  }
  return undefined;
}

/** Where compression happens once the command line is complete, and with what. */
export interface ResolvedCompression {
  location: 'client' | 'server';
  /** What this client compresses with ({ algorithm: 'none', level: 0 } for server-side compression). */
  client: CompressSpecification;
  /**
   * For server-side compression, what pg sends: COMPRESSION 'algorithm' and, if detail is set,
   * COMPRESSION_DETAIL 'detail' (algorithm may be 'none', e.g. with -t and no -Z).
   */
  server: { algorithm: string; detail: string | undefined } | undefined;
}

/**
 * Resolve the location (unspecified means client, or server when there is a backup target) and, for the
 * client, parse and check the specification.  Throws UsageError with pg's texts (no hint):
 * `unrecognized compression algorithm: "%s"` or `invalid compression specification: %s`.
 */
export function resolveCompression(
  c: CompressionSpec,
  hasTarget: boolean,
  support: CompressionSupport = defaultCompressionSupport,
): ResolvedCompression {
  const location = c.location === 'unspecified' ? (hasTarget ? 'server' : 'client') : c.location;
  if (location === 'server') {
    return { location, client: { algorithm: 'none', level: 0 }, server: { algorithm: c.algorithm, detail: c.detail } };
  }
  const algorithm = parseCompressAlgorithm(c.algorithm);
  if (algorithm === undefined) throw new UsageError(`unrecognized compression algorithm: "${c.algorithm}"`);
  const parsed = parseCompressSpecification(algorithm, c.detail, support);
  const error = validateCompressSpecification(parsed);
  if (error !== undefined) throw new UsageError(`invalid compression specification: ${error}`);
  return { location, client: parsed.spec, server: undefined };
}

/**
 * Beyond pg: how this client compresses again a server-compressed archive it had to edit (-Ft -R):
 * with the level, workers and long-distance setting of the server-side -Z detail when it is valid,
 * else with the algorithm's defaults (empty result).
 */
export function serverRecompressionOptions(server: ResolvedCompression['server']): {
  level?: number | undefined;
  workers?: number | undefined;
  long?: boolean | undefined;
} {
  const algorithm = server === undefined ? undefined : parseCompressAlgorithm(server.algorithm);
  if (server === undefined || algorithm === undefined || algorithm === 'none') return {};
  const parsed = parseCompressSpecification(algorithm, server.detail, () => true);
  if (validateCompressSpecification(parsed) !== undefined) return {};
  const s = parsed.spec;
  return {
    level: algorithm === 'gzip' && s.level === Z_DEFAULT_COMPRESSION ? undefined : s.level,
    workers: s.workers,
    long: s.longDistance,
  };
}
