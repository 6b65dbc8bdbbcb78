/**
 * Instantiates the stages that buildArchiveChain() chose, back to front, with real sinks (files,
 * stdout, an extraction directory), and returns the head `ByteSink` that the COPY stream
 * demultiplexer feeds.  For `-D -` with a manifest it also returns `manifestSink()`, whose sink
 * gathers the manifest and, when finished, injects it as `backup_manifest` before the archive
 * trailer (as ReceiveArchiveStream() does with the buffered manifest).
 */
import { isAbsolute } from 'node:path';
import type { Writable } from 'node:stream';
import { PgBasebackupError, ProtocolError } from '../errors.js';
import { buildArchiveChain, type ArchiveChain, type ArchivePlan, type StageName } from './build-chain.js';
import {
  compressionSupported,
  createCompressor,
  createDecompressor,
  unsupportedCompression,
  type CompressionSpec,
} from '../compression/compression.js';
import { Extractor, type ExtractionRecord } from './extractor.js';
import { dataDirPerm } from './file-perm.js';
import { FileWriter } from './file-writer.js';
import { MemberTee } from './member-tee.js';
import { RecoveryInjector } from './recovery-injector.js';
import type { ByteSink, MemberSink } from './streamer.js';
import { TarArchiver } from './tar-archiver.js';
import { TarParserStage } from './tar-parser.js';
import { TarTerminator } from './tar-terminator.js';
import { MARKER_NAME, MARKER_TMP_NAME } from '../backup/completion-marker.js';

/** Base archive members the extractor drops (src/backup/completion-marker.ts). */
const FOREIGN_MARKER_MEMBERS: ReadonlySet<string> = new Set([MARKER_NAME, MARKER_TMP_NAME]);

export interface ChainEnvironment {
  /** -D: the output directory (tar) or the data directory to extract into (plain). */
  baseDir: string;
  /** The archive's spclocation from the 'n' message (undefined for the base archive). */
  spcLocation?: string | undefined;
  /** -T mapping of a tablespace location (pg's get_tablespace_mapping); identity by default. */
  mapTablespace?: (oldPath: string) => string;
  /** The server's data_directory_mode. */
  dataDirMode: number;
  /** Where `-D -` output goes (process.stdout in the CLI). */
  stdout?: Writable;
  /** Level and options of the client-side compression (its algorithm is in the plan). */
  clientCompressionSpec?: Omit<CompressionSpec, 'algorithm'>;
  /** Level and options for compressing an edited server-compressed archive again (-Ft -R). */
  recompressionSpec?: Omit<CompressionSpec, 'algorithm'>;
  /** Plain format, base archive: member paths the client writes itself (see ExtractorOptions). */
  reservedPaths?: readonly string[] | undefined;
  /** Shared between all archives of a backup: what extraction created. */
  extractionRecord?: ExtractionRecord;
  /** Called with each output file name (pg's progress_update_filename). */
  reportOutputFile?: (path: string) => void;
  /** Tar files written here are written back every so many bytes while written (src/fs/writeback.ts). */
  writebackBytes?: number | undefined;
  /** Plain format: called with each extracted file once it is complete (early-sync.ts). */
  fileDone?: ((path: string, bytes: number) => void) | undefined;
  /** Plain format: bytes written to an extracted file as they are written (early-sync.ts). */
  fileWritten?: ((path: string, bytes: number) => void) | undefined;
  /** Called with the path of every tar file created, for a later fsync. */
  onCreate?: (path: string) => void;
  /** Seconds since the epoch for regenerated headers (tests). */
  now?: () => number;
  /**
   * Beyond pg, `-D - -X stream`: runs once before the archive ends (before the manifest is injected,
   * or before the trailer without one) to append members, e.g. the WAL streamed during the backup.
   */
  beforeArchiveEnd?: (archive: StreamInjectTarget) => Promise<void>;
  /**
   * Beyond pg, --verify: a sink that also gets every member as the server sent it, right after the tar
   * parser (before -R's injection).  Used only when the chain parses the archive (`memberTapUsed`).
   */
  memberTap?: MemberSink | undefined;
}

/** Where beforeArchiveEnd() appends members. */
export interface StreamInjectTarget {
  injectStream(name: string, size: number, mode: number, pieces: AsyncIterable<Buffer>): Promise<void>;
}

export interface ArchiveChainHandle {
  chain: ArchiveChain;
  head: ByteSink;
  /** Tar format to a file: its path. */
  outputPath?: string;
  /** Plain format: the directory the archive is extracted into. */
  extractDirectory?: string;
  /** Only when the manifest goes into this archive: a sink for the manifest bytes. */
  manifestSink?: () => ByteSink;
  /** env.memberTap gets the members (the chain parses this archive). */
  memberTapUsed?: boolean;
}

/** Where a plain-format archive is extracted (CreateBackupStreamer, 16+ in-place tablespaces). */
export function extractionDirectory(env: ChainEnvironment): string {
  const loc = env.spcLocation;
  if (loc === undefined) return env.baseDir;
  if (isAbsolute(loc)) return env.mapTablespace ? env.mapTablespace(loc) : loc;
  // An in-place tablespace (pg_tblspc/<oid>), relative to the data directory.
  if (loc.split('/').includes('..')) {
    throw new ProtocolError(`tablespace location "${loc}" would be written outside the target directory`);
  }
  return `${env.baseDir}/${loc}`;
}

/** Gathers the manifest in memory and injects it into the archiver when finished. */
class ManifestInjectSink implements ByteSink {
  private readonly pieces: Buffer[] = [];

  constructor(
    private readonly archiver: TarArchiver,
    private readonly mode: number,
    private readonly beforeManifest: () => Promise<void>,
  ) {}

  write(buf: Buffer): void {
    this.pieces.push(buf);
  }

  async finish(): Promise<void> {
    await this.beforeManifest();
    // The pieces as they came, not concatenated: a manifest of 60,000 files is 6 MB, kept once.
    const pieces = this.pieces.splice(0);
    const size = pieces.reduce((n, b) => n + b.length, 0);
    await this.archiver.injectStream('backup_manifest', size, this.mode, pieces);
  }

  async abort(): Promise<void> {
    this.pieces.length = 0;
  }
}

export function createArchiveChain(plan: ArchivePlan, env: ChainEnvironment): ArchiveChainHandle {
  const chain = buildArchiveChain(plan);
  // Fail before any file is created.
  const decodes = plan.format === 'plain' || chain.recompression !== 'none';
  if (chain.archiveCompression !== 'none' && !compressionSupported(chain.archiveCompression) && decodes) {
    throw unsupportedCompression(chain.archiveCompression);
  }
  if (!compressionSupported(plan.clientCompression)) throw unsupportedCompression(plan.clientCompression);
  const perm = dataDirPerm(env.dataDirMode);
  const handle: Partial<ArchiveChainHandle> & { chain: ArchiveChain } = { chain };

  // Build from the tail: the writer or extractor first.
  const stages = [...chain.stages].reverse();
  let bytes: ByteSink | undefined;
  let members: MemberSink | undefined;
  let archiver: TarArchiver | undefined;
  // env.beforeArchiveEnd, run at most once: before the manifest, or else before the trailer.
  let endHookRan = false;
  const beforeEnd = async (): Promise<void> => {
    if (endHookRan || env.beforeArchiveEnd === undefined || archiver === undefined) return;
    endHookRan = true;
    await env.beforeArchiveEnd(archiver);
  };

  for (const stage of stages) {
    switch (stage) {
      case 'file-writer': {
        const name = chain.outputName as string;
        const compressedFile = plan.clientCompression === 'gzip' || chain.recompression === 'gzip';
        if (plan.toStdout) {
          if (env.stdout === undefined) throw new PgBasebackupError('PGBB_INTERNAL', 'no stream for standard output');
          bytes = new FileWriter({ stream: env.stdout, name: '-' }, { compressedFile });
        } else {
          const path = `${env.baseDir}/${name}`;
          bytes = new FileWriter({ path, mode: perm.fileMode }, { onCreate: env.onCreate, compressedFile, writebackBytes: env.writebackBytes });
          handle.outputPath = path;
        }
        env.reportOutputFile?.(plan.toStdout ? '-' : `${env.baseDir}/${name}`);
        break;
      }
      case 'gzip-compressor':
      case 'lz4-compressor':
      case 'zstd-compressor':
        bytes =
          chain.recompression !== 'none'
            ? createCompressor({ ...env.recompressionSpec, algorithm: chain.recompression }, need(bytes, stage))
            : createCompressor({ ...env.clientCompressionSpec, algorithm: plan.clientCompression }, need(bytes, stage));
        break;
      case 'tar-terminator':
        bytes = new TarTerminator(need(bytes, stage));
        break;
      case 'tar-archiver':
        archiver = new TarArchiver(need(bytes, stage), { now: env.now, beforeTrailer: beforeEnd });
        members = archiver;
        bytes = undefined;
        break;
      case 'extractor': {
        const dir = extractionDirectory(env);
        handle.extractDirectory = dir;
        members = new Extractor({
          baseDir: dir,
          dataDirMode: env.dataDirMode,
          mapLink: env.mapTablespace,
          record: env.extractionRecord,
          reportOutputFile: env.reportOutputFile,
          // A completion marker inside the source (a standby we provisioned) is never taken for ours.
          skipMembers: env.spcLocation === undefined ? FOREIGN_MARKER_MEMBERS : undefined,
          // Straight from the connection (nothing decompressed in front): written as it comes, in place.
          writeThrough: chain.archiveCompression === 'none',
          fileDone: env.fileDone,
          fileWritten: env.fileWritten,
          ...(env.reservedPaths !== undefined ? { reservedPaths: env.reservedPaths } : {}),
        });
        break;
      }
      case 'recovery-injector':
        members = new RecoveryInjector(need(members, stage), {
          recoveryConf: plan.injectRecovery ?? '',
          fileMode: perm.fileMode,
          now: env.now,
        });
        break;
      case 'tar-parser':
        bytes = new TarParserStage(env.memberTap ? new MemberTee(env.memberTap, need(members, stage)) : need(members, stage));
        handle.memberTapUsed = env.memberTap !== undefined;
        members = undefined;
        break;
      case 'gzip-decompressor':
      case 'lz4-decompressor':
      case 'zstd-decompressor':
        bytes = createDecompressor(chain.archiveCompression, need(bytes, stage));
        break;
      default:
        throw new PgBasebackupError('PGBB_INTERNAL', `unknown archive stage ${String(stage)}`);
    }
  }

  handle.head = need(bytes, 'head');
  if (chain.injectManifest) {
    const a = need(archiver, 'manifest injection');
    handle.manifestSink = () => new ManifestInjectSink(a, perm.fileMode, beforeEnd);
  }
  return handle as ArchiveChainHandle;
}

function need<T>(sink: T | undefined, stage: StageName | string): T {
  if (sink === undefined) throw new PgBasebackupError('PGBB_INTERNAL', `archive stage ${stage} has nothing to feed`);
  return sink;
}
