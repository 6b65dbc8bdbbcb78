import { describe, expect, it } from 'vitest';
import { PgBasebackupError, ProtocolError, UsageError } from '../../../src/errors.js';
import { buildArchiveChain, type ArchivePlan } from '../../../src/archive/build-chain.js';

const plan = (over: Partial<ArchivePlan> = {}): ArchivePlan => ({
  format: 'plain',
  isBase: true,
  archiveName: 'base.tar',
  toStdout: false,
  injectManifest: false,
  serverCompression: 'none',
  clientCompression: 'none',
  ...over,
});

const R = "primary_conninfo = 'host=x'\n";

describe('buildArchiveChain', () => {
  it.each<[string, Partial<ArchivePlan>, string[], string | undefined]>([
    ['-Fp', {}, ['tar-parser', 'extractor'], undefined],
    ['-Fp, a tablespace', { isBase: false, archiveName: '16384.tar' }, ['tar-parser', 'extractor'], undefined],
    ['-Fp -R', { injectRecovery: R }, ['tar-parser', 'recovery-injector', 'extractor'], undefined],
    ['-Fp -R, a tablespace', { injectRecovery: R, isBase: false, archiveName: '16384.tar' }, ['tar-parser', 'extractor'], undefined],
    ['-Fp -Z server-gzip', { serverCompression: 'gzip', archiveName: 'base.tar.gz' }, ['gzip-decompressor', 'tar-parser', 'extractor'], undefined],
    ['-Fp -Z server-lz4 -R', { serverCompression: 'lz4', archiveName: 'base.tar.lz4', injectRecovery: R }, ['lz4-decompressor', 'tar-parser', 'recovery-injector', 'extractor'], undefined],
    ['-Fp -Z server-zstd', { serverCompression: 'zstd', archiveName: 'base.tar.zst' }, ['zstd-decompressor', 'tar-parser', 'extractor'], undefined],
    ['-Ft', { format: 'tar' }, ['file-writer'], 'base.tar'],
    ['-Ft, a tablespace', { format: 'tar', isBase: false, archiveName: '16384.tar' }, ['file-writer'], '16384.tar'],
    ['-Ft, server before 15', { format: 'tar', expectUnterminatedTar: true }, ['tar-terminator', 'file-writer'], 'base.tar'],
    ['-Ft -z', { format: 'tar', clientCompression: 'gzip' }, ['gzip-compressor', 'file-writer'], 'base.tar.gz'],
    ['-Ft -Z client-zstd', { format: 'tar', clientCompression: 'zstd' }, ['zstd-compressor', 'file-writer'], 'base.tar.zst'],
    ['-Ft -Z client-lz4', { format: 'tar', clientCompression: 'lz4' }, ['lz4-compressor', 'file-writer'], 'base.tar.lz4'],
    ['-Ft -Z server-gzip', { format: 'tar', serverCompression: 'gzip', archiveName: 'base.tar.gz' }, ['file-writer'], 'base.tar.gz'],
    ['-Ft -R', { format: 'tar', injectRecovery: R }, ['tar-parser', 'recovery-injector', 'tar-archiver', 'file-writer'], 'base.tar'],
    ['-Ft -R, a tablespace', { format: 'tar', injectRecovery: R, isBase: false, archiveName: '16384.tar' }, ['file-writer'], '16384.tar'],
    ['-Ft -R -z', { format: 'tar', injectRecovery: R, clientCompression: 'gzip' }, ['tar-parser', 'recovery-injector', 'tar-archiver', 'gzip-compressor', 'file-writer'], 'base.tar.gz'],
    ['-Ft -R, server before 15', { format: 'tar', injectRecovery: R, expectUnterminatedTar: true }, ['tar-parser', 'recovery-injector', 'tar-archiver', 'file-writer'], 'base.tar'],
    ['-Ft -D - -R', { format: 'tar', toStdout: true, injectRecovery: R, injectManifest: true }, ['tar-parser', 'recovery-injector', 'tar-archiver', 'file-writer'], '-'],
    ['-Ft -D -', { format: 'tar', toStdout: true, injectManifest: true }, ['tar-parser', 'tar-archiver', 'file-writer'], '-'],
    ['-Ft -D - --no-manifest', { format: 'tar', toStdout: true }, ['file-writer'], '-'],
    ['-Ft -D - -z', { format: 'tar', toStdout: true, injectManifest: true, clientCompression: 'gzip' }, ['tar-parser', 'tar-archiver', 'gzip-compressor', 'file-writer'], '-'],
    ['-Ft -D - -Z server-gzip --no-manifest', { format: 'tar', toStdout: true, serverCompression: 'gzip', archiveName: 'base.tar.gz' }, ['file-writer'], '-'],
  ])('%s', (_opts, over, stages, outputName) => {
    const chain = buildArchiveChain(plan(over));
    expect(chain.stages).toEqual(stages);
    expect(chain.outputName).toBe(outputName);
    expect(chain.mustParseArchive).toBe(stages.includes('tar-parser'));
    expect(chain.injectRecovery).toBe(stages.includes('recovery-injector'));
  });

  it('refuses to inject the manifest into a server-compressed tar, with pg\'s hint', () => {
    const f = () => buildArchiveChain(plan({ format: 'tar', toStdout: true, injectManifest: true, serverCompression: 'gzip', archiveName: 'base.tar.gz' }));
    expect(f).toThrow(UsageError);
    try {
      f();
    } catch (e) {
      expect((e as UsageError).message).toBe('cannot inject manifest into a compressed tar file');
      expect((e as UsageError).hint).toBe(
        'Use client-side compression, send the output to a directory rather than standard output, or use --no-manifest.',
      );
    }
  });

  it.each<[string, Partial<ArchivePlan>, string[]]>([
    ['-Fp', {}, ['Only tar archives can be parsed.', 'Plain format requires pg_basebackup to parse the archive.']],
    [
      '-Fp -R',
      { injectRecovery: R },
      ['Only tar archives can be parsed.', 'Plain format requires pg_basebackup to parse the archive.', 'The -R option requires pg_basebackup to parse the archive.'],
    ],
    [
      '-Ft -D - -R',
      { format: 'tar', toStdout: true, injectManifest: true, injectRecovery: R },
      ['Only tar archives can be parsed.', 'Using - as the output directory requires pg_basebackup to parse the archive.', 'The -R option requires pg_basebackup to parse the archive.'],
    ],
    ['-Ft -R', { format: 'tar', injectRecovery: R }, ['Only tar archives can be parsed.', 'The -R option requires pg_basebackup to parse the archive.']],
  ])('refuses to parse a non-tar archive (%s), with pg\'s details', (_opts, over, detail) => {
    try {
      buildArchiveChain(plan({ archiveName: 'base.zip', ...over }));
      expect.fail('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).message).toBe('cannot parse archive "base.zip"');
      expect((e as ProtocolError).detail).toEqual(detail);
    }
  });

  it('writes a non-tar archive verbatim when nothing needs parsing (as pg does)', () => {
    expect(buildArchiveChain(plan({ format: 'tar', archiveName: 'base.zip' })).stages).toEqual(['file-writer']);
    // pg checks the suffix only: ".tar" alone is not a tar archive name
    expect(() => buildArchiveChain(plan({ archiveName: '.tar' }))).toThrow(ProtocolError);
  });

  it.each(['gzip', 'lz4', 'zstd'] as const)('-Ft -R on a %s server-compressed base archive: decompress, inject, compress again (beyond pg)', (alg) => {
    const name = `base.tar${{ gzip: '.gz', lz4: '.lz4', zstd: '.zst' }[alg]}`;
    const chain = buildArchiveChain(plan({ format: 'tar', injectRecovery: R, serverCompression: alg, archiveName: name }));
    expect(chain.stages).toEqual([`${alg}-decompressor`, 'tar-parser', 'recovery-injector', 'tar-archiver', `${alg}-compressor`, 'file-writer']);
    expect(chain.recompression).toBe(alg);
    expect(chain.outputName).toBe(name);
    // a tablespace archive is not parsed, so it is written as it is
    const spc = buildArchiveChain(plan({ format: 'tar', injectRecovery: R, serverCompression: alg, archiveName: `16384${name.slice(4)}`, isBase: false }));
    expect(spc.stages).toEqual(['file-writer']);
    expect(spc.recompression).toBe('none');
  });

  it('-Ft -D - -R --no-manifest on a server-compressed archive goes to stdout recompressed', () => {
    const chain = buildArchiveChain(plan({ format: 'tar', toStdout: true, injectRecovery: R, serverCompression: 'zstd', archiveName: 'base.tar.zst' }));
    expect(chain.stages).toEqual(['zstd-decompressor', 'tar-parser', 'recovery-injector', 'tar-archiver', 'zstd-compressor', 'file-writer']);
    expect(chain.outputName).toBe('-');
  });

  it('rejects inconsistent plans as internal errors', () => {
    expect(() => buildArchiveChain(plan({ injectManifest: true }))).toThrow(PgBasebackupError);
    expect(() => buildArchiveChain(plan({ clientCompression: 'gzip' }))).toThrow(PgBasebackupError);
    expect(() => buildArchiveChain(plan({ format: 'tar', clientCompression: 'gzip', archiveName: 'base.tar.gz' }))).toThrow(PgBasebackupError);
  });
});
