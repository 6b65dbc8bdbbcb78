/**
 * A platform where the lz4 and zstd libraries cannot be loaded (no prebuilt binary), on a runtime
 * without zstd in node:zlib (Node.js 20): this build then behaves as a pg build without them, with
 * pg's messages, before anything is created.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

vi.mock('../../../src/compression/libs.js', () => ({
  lz4Lib: () => undefined,
  zstdLib: () => undefined,
  fzstdLib: () => undefined,
  nodeZstd: () => undefined,
}));

const { compressionSupported, createCompressor, createDecompressor, runtimeCompressionSupport } = await import('../../../src/compression/compression.js');
const { createArchiveChain } = await import('../../../src/archive/create-chain.js');
const { UsageError } = await import('../../../src/errors.js');
const { outcome } = await import('../cli/stderr.js');
const { CollectingByteSink } = await import('../archive/helpers.js');

const tmp = mkdtempSync(join(tmpdir(), 'pgbb-nolib-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('without the lz4 and zstd libraries', () => {
  it('only gzip is supported', () => {
    expect(compressionSupported('gzip')).toBe(true);
    expect(compressionSupported('lz4')).toBe(false);
    expect(compressionSupported('zstd')).toBe(false);
    expect(runtimeCompressionSupport('lz4')).toBe(false);
    expect(() => createCompressor({ algorithm: 'zstd' }, new CollectingByteSink())).toThrow(new UsageError('this build does not support compression with zstd'));
    expect(() => createDecompressor('zstd', new CollectingByteSink())).toThrow(new UsageError('this build does not support compression with zstd'));
  });

  it.each([
    [['-D', 'x', '-Ft', '-Z', 'lz4'], 'LZ4'],
    [['-D', 'x', '-Ft', '-Z', 'client-zstd:level=5'], 'ZSTD'],
  ])('the command line %j says pg\'s "this build does not support compression with %s"', (argv, name) => {
    expect(outcome(argv).stderr).toEqual([`pg_basebackup: error: invalid compression specification: this build does not support compression with ${name}`]);
  });

  it('a later option error wins over the missing library, and server-side lz4 is the server\'s business', () => {
    expect(outcome(['-D', 'x', '-Ft', '-Z', 'lz4:foo']).stderr).toEqual([
      'pg_basebackup: error: invalid compression specification: unrecognized compression option: "foo"',
    ]);
    expect(outcome(['-D', 'x', '-Ft', '-Z', 'server-lz4']).stderr).toBeUndefined();
  });

  it('a chain that needs the library fails before creating anything', () => {
    const out = join(tmp, 'out');
    mkdirSync(out);
    const plan = { isBase: true, toStdout: false, injectManifest: false, serverCompression: 'none', clientCompression: 'none' } as const;
    expect(() =>
      createArchiveChain({ ...plan, format: 'plain', archiveName: 'base.tar.zst', serverCompression: 'zstd' }, { baseDir: out, dataDirMode: 0o700 }),
    ).toThrow(new UsageError('this build does not support compression with zstd'));
    expect(() => createArchiveChain({ ...plan, format: 'tar', archiveName: 'base.tar', clientCompression: 'lz4' }, { baseDir: out, dataDirMode: 0o700 })).toThrow(
      new UsageError('this build does not support compression with lz4'),
    );
    expect(() =>
      createArchiveChain(
        { ...plan, format: 'tar', archiveName: 'base.tar.zst', serverCompression: 'zstd', injectRecovery: "primary_conninfo = ''\n" },
        { baseDir: out, dataDirMode: 0o700 },
      ),
    ).toThrow(new UsageError('this build does not support compression with zstd'));
    expect(readdirSync(out)).toEqual([]);
    // a server-compressed tar written as it is needs no library
    expect(createArchiveChain({ ...plan, format: 'tar', archiveName: 'base.tar.zst', serverCompression: 'zstd' }, { baseDir: out, dataDirMode: 0o700 }).chain.stages).toEqual([
      'file-writer',
    ]);
  });
});
