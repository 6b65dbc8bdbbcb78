import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  parseCompressAlgorithm,
  parseCompressOptions,
  parseCompressSpecification,
  resolveCompression,
  validateCompressSpecification,
  ZSTD_MIN_CLEVEL,
  type CompressionSupport,
} from '../../../src/options/compression-spec.js';

const all: CompressionSupport = () => true;

describe('parseCompressOptions (-Z value)', () => {
  it.each([
    ['5', 'unspecified', 'gzip', '5'],
    ['0', 'unspecified', 'none', undefined],
    ['00', 'unspecified', 'none', undefined],
    ['', 'unspecified', 'none', undefined],
    ['-1', 'unspecified', 'gzip', '-1'],
    [' 5', 'unspecified', 'gzip', ' 5'],
    ['99999999999999999999', 'unspecified', 'gzip', '99999999999999999999'],
    ['5x', 'unspecified', '5x', undefined],
    ['0x5', 'unspecified', '0x5', undefined],
    ['   ', 'unspecified', '   ', undefined],
    ['gzip', 'unspecified', 'gzip', undefined],
    ['gzip:', 'unspecified', 'gzip', ''],
    ['gzip:level=1:x', 'unspecified', 'gzip', 'level=1:x'],
    ['server-5', 'server', 'gzip', '5'],
    ['server-0', 'server', 'none', undefined],
    ['client-lz4:3', 'client', 'lz4', '3'],
    ['server-', 'server', 'none', undefined],
    ['client-server-gzip', 'client', 'server-gzip', undefined],
    ['Server-gzip', 'unspecified', 'Server-gzip', undefined],
  ])('%j -> %s %s %s', (option, location, algorithm, detail) => {
    expect(parseCompressOptions(option)).toEqual({ location, algorithm, detail });
  });
});

describe('parseCompressAlgorithm', () => {
  it('knows exactly four lower-case names', () => {
    expect(['none', 'gzip', 'lz4', 'zstd', 'GZIP', 'gz', ''].map(parseCompressAlgorithm)).toEqual([
      'none', 'gzip', 'lz4', 'zstd', undefined, undefined, undefined,
    ]);
  });
});

describe('parseCompressSpecification + validateCompressSpecification', () => {
  const check = (alg: 'none' | 'gzip' | 'lz4' | 'zstd', detail: string | undefined, support: CompressionSupport = all) =>
    validateCompressSpecification(parseCompressSpecification(alg, detail, support));

  it('defaults per algorithm', () => {
    expect(parseCompressSpecification('gzip', undefined, all).spec).toEqual({ algorithm: 'gzip', level: -1 });
    expect(parseCompressSpecification('lz4', undefined, all).spec).toEqual({ algorithm: 'lz4', level: 0 });
    expect(parseCompressSpecification('zstd', undefined, all).spec).toEqual({ algorithm: 'zstd', level: 3 });
    expect(parseCompressSpecification('none', undefined, all).spec).toEqual({ algorithm: 'none', level: 0 });
    for (const a of ['gzip', 'lz4', 'zstd', 'none'] as const) expect(check(a, undefined)).toBeUndefined();
  });

  it('levels: bare integer or level=N, with ranges and the default allowed', () => {
    expect(parseCompressSpecification('gzip', '9', all).spec.level).toBe(9);
    expect(parseCompressSpecification('gzip', ' +7', all).spec.level).toBe(7);
    expect(parseCompressSpecification('gzip', 'level=4', all).spec.level).toBe(4);
    expect(check('gzip', '0')).toBe('compression algorithm "gzip" expects a compression level between 1 and 9 (default at -1)');
    expect(check('gzip', '-1')).toBeUndefined();
    expect(check('lz4', '12')).toBeUndefined();
    expect(check('lz4', '0')).toBeUndefined();
    expect(check('lz4', '13')).toBe('compression algorithm "lz4" expects a compression level between 1 and 12 (default at 0)');
    expect(check('zstd', '22')).toBeUndefined();
    expect(check('zstd', '-5')).toBeUndefined();
    expect(check('zstd', '23')).toBe(`compression algorithm "zstd" expects a compression level between ${ZSTD_MIN_CLEVEL} and 22 (default at 3)`);
    expect(check('none', '0')).toBeUndefined();
    expect(check('none', '1')).toBe('compression algorithm "none" does not accept a compression level');
  });

  it('an int truncation of strtol as in C: LONG_MAX becomes -1, the gzip default', () => {
    expect(parseCompressSpecification('gzip', '99999999999999999999', all).spec.level).toBe(-1);
    expect(check('gzip', '99999999999999999999')).toBeUndefined();
    expect(parseCompressSpecification('gzip', '4294967297', all).spec.level).toBe(1);
  });

  it('workers and long distance: zstd only', () => {
    expect(parseCompressSpecification('zstd', 'level=5,workers=4,long', all).spec).toEqual({
      algorithm: 'zstd', level: 5, workers: 4, longDistance: true,
    });
    expect(parseCompressSpecification('zstd', 'long=OFF', all).spec.longDistance).toBe(false);
    expect(parseCompressSpecification('zstd', 'long=Yes', all).spec.longDistance).toBe(true);
    expect(check('zstd', 'workers=0,long=1')).toBeUndefined();
    expect(check('lz4', 'workers=2')).toBe('compression algorithm "lz4" does not accept a worker count');
    expect(check('lz4', 'long')).toBe('compression algorithm "lz4" does not support long-distance mode');
    expect(check('gzip', 'level=99,workers=2')).toMatch(/expects a compression level/); // level checked first
  });

  it('parse errors, the first one stopping the scan', () => {
    expect(check('gzip', '')).toBe('found empty string where a compression option was expected');
    expect(check('gzip', ',level=1')).toBe('found empty string where a compression option was expected');
    expect(check('gzip', 'level=1,')).toBe('found empty string where a compression option was expected');
    expect(check('gzip', '=3')).toBe('found empty string where a compression option was expected');
    expect(check('gzip', 'thunk,level=')).toBe('unrecognized compression option: "thunk"');
    expect(check('gzip', 'level')).toBe('compression option "level" requires a value');
    expect(check('zstd', 'workers')).toBe('compression option "workers" requires a value');
    expect(check('gzip', 'level= 5x')).toBe('value for compression option "level" must be an integer');
    expect(check('zstd', 'long=2')).toBe('value for compression option "long" must be a Boolean value');
    expect(check('gzip', 'Level=1')).toBe('unrecognized compression option: "Level"');
  });

  it('an algorithm this build lacks', () => {
    const gzipOnly: CompressionSupport = (a) => a === 'gzip';
    expect(check('lz4', undefined, gzipOnly)).toBe('this build does not support compression with LZ4');
    expect(check('zstd', '5', gzipOnly)).toBe('this build does not support compression with ZSTD');
    expect(check('zstd', 'level=5,junk', gzipOnly)).toBe('this build does not support compression with ZSTD');
    expect(check('zstd', 'junk', gzipOnly)).toBe('unrecognized compression option: "junk"');
    expect(check('gzip', undefined, () => false)).toBe('this build does not support compression with gzip');
    expect(check('none', undefined, () => false)).toBeUndefined();
  });
});

describe('resolveCompression', () => {
  it('unspecified means client, or server with a target', () => {
    const gz = parseCompressOptions('gzip:5');
    expect(resolveCompression(gz, false)).toEqual({ location: 'client', client: { algorithm: 'gzip', level: 5 }, server: undefined });
    expect(resolveCompression(gz, true)).toEqual({
      location: 'server', client: { algorithm: 'none', level: 0 }, server: { algorithm: 'gzip', detail: '5' },
    });
  });

  it('server-side values pass unchecked; none is still sent to the server', () => {
    expect(resolveCompression(parseCompressOptions('server-turkey:sandwich'), false).server).toEqual({ algorithm: 'turkey', detail: 'sandwich' });
    expect(resolveCompression(parseCompressOptions('0'), true).server).toEqual({ algorithm: 'none', detail: undefined });
  });

  it('client-side errors with pg texts and no hint', () => {
    const fail = (z: string): UsageError => {
      try {
        resolveCompression(parseCompressOptions(z), false);
      } catch (err) {
        return err as UsageError;
      }
      throw new Error('expected an error');
    };
    expect(fail('turkey').message).toBe('unrecognized compression algorithm: "turkey"');
    expect(fail('client-gzip:x').message).toBe('invalid compression specification: unrecognized compression option: "x"');
    expect(fail('lz4').message).toBe('invalid compression specification: this build does not support compression with LZ4');
    expect(fail('lz4')).toBeInstanceOf(UsageError);
    expect(fail('lz4').hint).toBeUndefined();
    expect(resolveCompression(parseCompressOptions('lz4'), false, all).client).toEqual({ algorithm: 'lz4', level: 0 });
  });
});
