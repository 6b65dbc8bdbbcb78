/**
 * The COPY part of BASE_BACKUP (pg's ReceiveArchiveStream): each 'n' builds the chain for one archive
 * (createArchiveChain, after CreateBackupStreamer), 'd' feeds it, 'p' updates progress, 'm' opens
 * backup_manifest.tmp (or, for -D -, the sink that injects the manifest into the tar).
 */
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { CopyStreamDemux } from '../archive/copy-stream-demux.js';
import { createArchiveChain, type StreamInjectTarget } from '../archive/create-chain.js';
import { newExtractionRecord } from '../archive/extractor.js';
import { dataDirPerm } from '../archive/file-perm.js';
import { FileWriter } from '../archive/file-writer.js';
import type { ByteSink } from '../archive/streamer.js';
import { serverRecompressionOptions, type CompressionAlgorithm, type ResolvedCompression } from '../options/compression-spec.js';
import { ArchiveAnnouncements } from './archive-announcements.js';
import type { LiveVerifier } from './live-verify/live-verifier.js';
import type { BackupResponseReader, TablespaceInfo } from './backup-response.js';
import type { ProgressReporter } from './progress.js';

export interface ReceiveArchivesParams {
  format: 'plain' | 'tar';
  basedir: string;
  toStdout: boolean;
  stdout: Writable;
  dataDirMode: number;
  mapTablespace: (location: string) => string;
  recoveryText: string | undefined;
  manifest: boolean;
  /** A backup target (-t): the server keeps the data; nothing is written here. */
  hasTarget: boolean;
  compression: ResolvedCompression;
  progress: ProgressReporter;
  /** The tablespace result set: each 'n' message must name one of them (archive-announcements.ts). */
  tablespaces: readonly TablespaceInfo[];
  /** -X stream writes into <basedir>/pg_wal while the base archive is extracted (plain format). */
  streamsWalIntoPgWal: boolean;
  /** `-Ft -D - -X stream` (beyond pg): appends the streamed WAL before the archive ends. */
  beforeArchiveEnd?: ((archive: StreamInjectTarget) => Promise<void>) | undefined;
  /** Tar files: written back every so many bytes while written (the backup is synced at its end). */
  writebackBytes?: number | undefined;
  /** Plain format: each extracted file once complete (its early fsync, src/fs/early-sync.ts). */
  fileDone?: ((path: string, bytes: number) => void) | undefined;
  /** Plain format: bytes written to an extracted file as they are written (early-sync.ts). */
  fileWritten?: ((path: string, bytes: number) => void) | undefined;
  /** --verify: every archive and the manifest are tapped for the live verification. */
  verifier?: LiveVerifier | undefined;
}

export async function receiveArchives(reader: BackupResponseReader, p: ReceiveArchivesParams): Promise<{ bytes: number }> {
  let tablespaceNum = -1;
  let bytes = 0;
  let manifestSink: (() => ByteSink) | undefined;
  const record = newExtractionRecord();
  const { fileMode } = dataDirPerm(p.dataDirMode);
  const client = p.compression.client;
  const serverAlgorithm = (p.compression.server?.algorithm ?? 'none') as CompressionAlgorithm;

  const announcements = new ArchiveAnnouncements(p.tablespaces);
  // Files this client writes itself in the base directory: an archive member there is an error.
  const reservedPaths = ['backup_manifest', 'backup_manifest.tmp', ...(p.streamsWalIntoPgWal ? ['pg_wal/'] : [])];

  const demux = new CopyStreamDemux({
    startArchive: (name, spcLocation) => {
      announcements.check(name, spcLocation);
      // pg forces a progress report when a new archive starts (except the first).
      if (++tablespaceNum > 0) p.progress.report(tablespaceNum, true, false);
      if (p.hasTarget) return undefined;
      const verified = p.verifier?.membersOf(name, spcLocation);
      const handle = createArchiveChain(
        {
          format: p.format,
          isBase: spcLocation === undefined,
          archiveName: name,
          toStdout: p.toStdout,
          injectRecovery: p.recoveryText,
          injectManifest: p.toStdout && p.manifest,
          injectWal: p.toStdout && p.beforeArchiveEnd !== undefined,
          serverCompression: serverAlgorithm,
          clientCompression: client.algorithm,
        },
        {
          baseDir: p.basedir,
          spcLocation,
          mapTablespace: p.mapTablespace,
          dataDirMode: p.dataDirMode,
          stdout: p.stdout,
          clientCompressionSpec: {
            level: client.algorithm === 'gzip' && client.level === -1 ? undefined : client.level,
            workers: client.workers,
            long: client.longDistance,
          },
          recompressionSpec: serverRecompressionOptions(p.compression.server),
          extractionRecord: record,
          reservedPaths: spcLocation === undefined ? reservedPaths : undefined,
          beforeArchiveEnd: p.toStdout ? p.beforeArchiveEnd : undefined,
          reportOutputFile: (f) => {
            p.progress.state.filename = f;
          },
          memberTap: verified,
          fileDone: p.fileDone,
          fileWritten: p.fileWritten,
          writebackBytes: p.writebackBytes,
        },
      );
      manifestSink = handle.manifestSink;
      return p.verifier && verified && !handle.memberTapUsed ? p.verifier.tapArchive(name, verified, handle.head) : handle.head;
    },
    progress: (done) => {
      p.progress.state.totalDone = done;
      p.progress.report(Math.max(tablespaceNum, 0), true, false);
    },
    startManifest: () => {
      if (p.hasTarget) return undefined;
      const tap = (sink: ByteSink): ByteSink => (p.verifier ? p.verifier.tapManifest(sink) : sink);
      if (manifestSink) return tap(manifestSink());
      // A new file (O_EXCL|O_NOFOLLOW): never written through whatever an archive left at that name.
      return tap(new FileWriter({ path: join(p.basedir, 'backup_manifest.tmp'), mode: fileMode }));
    },
  });

  try {
    await reader.readCopyStream((payload, transient) => {
      bytes += payload.length;
      return demux.write(payload, transient);
    });
    await demux.end();
  } catch (e) {
    await demux.abort(e).catch(() => undefined);
    throw e;
  }
  p.progress.state.filename = undefined;
  return { bytes };
}
