/**
 * Which stages an archive goes through, after pg_basebackup.c's CreateBackupStreamer().  Pure: the
 * decision only, no I/O; create-chain.ts instantiates the stages.
 *
 * Stages are listed head first (the one that receives the server's bytes first):
 * - plain:   [decompressor] → tar-parser → [recovery-injector] → extractor
 * - tar:     tar-parser → [recovery-injector] → tar-archiver → [compressor] → file-writer
 *            when the archive must be parsed (-R on the base archive, or the manifest injected for
 *            `-D -`); otherwise [tar-terminator] → [compressor] → file-writer, the server's bytes
 *            being written as they are.
 *
 * Beyond pg: with -Ft -R, pg feeds a server-compressed base archive to the tar parser undecoded
 * (reference §5.5).  Here that archive is decompressed, edited and compressed again with the same
 * algorithm (create-chain.ts uses the server's level when -Z gave one):
 *            decompressor → tar-parser → recovery-injector → tar-archiver → compressor → file-writer
 */
import { PgBasebackupError, ProtocolError, UsageError } from '../errors.js';
import { archiveCompression, compressionSuffix, type CompressionAlgorithm } from '../compression/compression.js';

export type StageName =
  | 'gzip-decompressor'
  | 'lz4-decompressor'
  | 'zstd-decompressor'
  | 'tar-parser'
  | 'recovery-injector'
  | 'tar-archiver'
  | 'tar-terminator'
  | 'gzip-compressor'
  | 'lz4-compressor'
  | 'zstd-compressor'
  | 'extractor'
  | 'file-writer';

export interface ArchivePlan {
  format: 'plain' | 'tar';
  /** The main data directory's archive (empty spclocation). */
  isBase: boolean;
  /** The name from the 'n' message: base.tar, <oid>.tar, with .gz/.lz4/.zst under server compression. */
  archiveName: string;
  /** -Ft -D -: the archive goes to standard output. */
  toStdout: boolean;
  /**
   * The -R text, given for every archive whenever -R is in effect (pg mentions -R in its
   * "cannot parse archive" details for any archive); it is injected into the base archive only.
   */
  injectRecovery?: string | undefined;
  /** The backup manifest goes into this tar (tar format to stdout, with a manifest). */
  injectManifest: boolean;
  /** Beyond pg: WAL streamed during the backup goes into this tar (tar format to stdout, -X stream). */
  injectWal?: boolean | undefined;
  /** What -Z asked the server for; the archive's own compression is read from its name, as in pg. */
  serverCompression: CompressionAlgorithm;
  /** -Z client-side compression (tar format only). */
  clientCompression: CompressionAlgorithm;
  /** Servers before 15 send tar archives without the two closing zero blocks. */
  expectUnterminatedTar?: boolean | undefined;
}

export interface ArchiveChain {
  /** Head first. */
  stages: StageName[];
  mustParseArchive: boolean;
  injectRecovery: boolean;
  injectManifest: boolean;
  /** Compression of the archive as received (from its name). */
  archiveCompression: CompressionAlgorithm;
  /** A server-compressed tar that is decompressed to be edited and compressed again with this. */
  recompression: CompressionAlgorithm;
  /** Tar format: the output file name (archive name plus the client suffix), or "-" for stdout. */
  outputName?: string;
}

const MANIFEST_HINT =
  'Use client-side compression, send the output to a directory rather than standard output, or use --no-manifest.';
const WAL_HINT = 'Use client-side compression, send the output to a directory rather than standard output, or use -X fetch.';

function compressorStage(algorithm: CompressionAlgorithm): StageName[] {
  return algorithm === 'none' ? [] : [`${algorithm}-compressor` as StageName];
}

function decompressorStage(algorithm: CompressionAlgorithm): StageName[] {
  return algorithm === 'none' ? [] : [`${algorithm}-decompressor` as StageName];
}

export function buildArchiveChain(plan: ArchivePlan): ArchiveChain {
  const compression = archiveCompression(plan.archiveName);
  const isCompressedTar = compression !== undefined && compression !== 'none';

  if (plan.injectManifest && !(plan.format === 'tar' && plan.toStdout)) {
    throw new PgBasebackupError('PGBB_INTERNAL', 'the manifest is injected only into a tar archive on standard output');
  }
  if (plan.format === 'plain' && plan.clientCompression !== 'none') {
    throw new PgBasebackupError('PGBB_INTERNAL', 'client-side compression in plain format');
  }
  if (isCompressedTar && plan.clientCompression !== 'none') {
    throw new PgBasebackupError('PGBB_INTERNAL', 'an archive compressed both by the server and by the client');
  }

  if (plan.injectManifest && isCompressedTar) {
    throw new UsageError('cannot inject manifest into a compressed tar file', { hint: MANIFEST_HINT });
  }
  if (plan.injectWal && !(plan.format === 'tar' && plan.toStdout)) {
    throw new PgBasebackupError('PGBB_INTERNAL', 'streamed WAL is injected only into a tar archive on standard output');
  }
  if (plan.injectWal && isCompressedTar) {
    throw new UsageError('cannot inject write-ahead log into a compressed tar file', { hint: WAL_HINT });
  }

  const writeRecoveryConf = plan.injectRecovery !== undefined;
  const injectRecovery = writeRecoveryConf && plan.isBase;
  const mustParseArchive = plan.format === 'plain' || plan.injectManifest || plan.injectWal === true || injectRecovery;

  if (mustParseArchive && compression === undefined) {
    const detail = ['Only tar archives can be parsed.'];
    if (plan.format === 'plain') detail.push('Plain format requires pg_basebackup to parse the archive.');
    if (plan.injectManifest || plan.injectWal) detail.push('Using - as the output directory requires pg_basebackup to parse the archive.');
    if (writeRecoveryConf) detail.push('The -R option requires pg_basebackup to parse the archive.');
    throw new ProtocolError(`cannot parse archive "${plan.archiveName}"`, { detail });
  }
  const received = compression ?? 'none';

  if (plan.format === 'plain') {
    return {
      stages: [
        ...decompressorStage(received),
        'tar-parser',
        ...(injectRecovery ? (['recovery-injector'] as const) : []),
        'extractor',
      ],
      mustParseArchive,
      injectRecovery,
      injectManifest: false,
      archiveCompression: received,
      recompression: 'none',
    };
  }

  // Only -R gets here with a compressed tar (manifest and WAL injection were refused above).
  const recompression = mustParseArchive ? received : 'none';
  const head: StageName[] = mustParseArchive
    ? [...decompressorStage(recompression), 'tar-parser', ...(injectRecovery ? (['recovery-injector'] as const) : []), 'tar-archiver']
    : plan.expectUnterminatedTar
      ? ['tar-terminator']
      : [];
  return {
    stages: [...head, ...compressorStage(recompression !== 'none' ? recompression : plan.clientCompression), 'file-writer'],
    mustParseArchive,
    injectRecovery,
    injectManifest: plan.injectManifest,
    archiveCompression: received,
    recompression,
    outputName: plan.toStdout ? '-' : plan.archiveName + compressionSuffix(plan.clientCompression),
  };
}
