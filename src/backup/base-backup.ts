/**
 * One base backup, in pg_basebackup's order (PB main() and BaseBackup()):
 * connect → target directories → wal_segment_size → --waldir symlink → version checks → -R text →
 * IDENTIFY_SYSTEM → BASE_BACKUP → start position → tablespaces → [WAL receiver] → archives and
 * manifest → end position → CommandComplete → [wait for WAL] → fsync → manifest rename.
 * On failure, BackupCleanup removes what this run created (unless --no-clean).
 */
import { symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { FileError, PgBasebackupError, strerror } from '../errors.js';
import type { Logger } from '../log.js';
import type { Lsn, TimeLineId } from '../lsn.js';
import type { BackupOptions } from '../options/backup-options.js';
import { resolveCompression } from '../options/compression-spec.js';
import { runtimeCompressionSupport } from '../compression/compression.js';
import { identifySystem, retrieveDataDirCreatePerm, retrieveWalSegSize } from '../protocol/commands.js';
import type { PgConnection } from '../protocol/connection.js';
import { durableRename, plainRename } from '../fs/fsync.js';
import { EarlySync } from '../fs/early-sync.js';
import { WRITEBACK_EVERY_BYTES } from '../fs/writeback.js';
import { plainBackupRoots, syncBackupSteps } from '../fs/sync-method.js';
import { gzipFileInPlace } from '../compression/gzip-file.js';
import { verifyDirIsEmptyOrCreate } from '../fs/target-dir.js';
import { dataDirPerm } from '../archive/file-perm.js';
import { receiveArchives } from './receive-archives.js';
import { buildBaseBackupCommand } from './base-backup-command.js';
import { BackupResponseReader, type TablespaceInfo } from './backup-response.js';
import { checkTablespaceList } from './archive-announcements.js';
import { BackupCleanup } from './cleanup.js';
import { incrementalParent } from './incremental-parent.js';
import { LiveVerifier } from './live-verify/live-verifier.js';
import { tapWalWriter } from './live-verify/wal-writer-tap.js';
import { parseChecksumAlgorithm } from '../manifest/checksum.js';
import { statusFileFor } from './completion-marker.js';
import { checkServerVersion } from './server-version.js';
import { uploadManifest } from './upload-manifest.js';
import { tablespaceMapper } from './tablespace-map.js';
import { startWalStreaming, type WalStreamHandle } from './wal-streaming.js';
import { appendStreamedWal, endPositionOnce } from './stdout-wal.js';
import { buildRecoveryConfig } from './recovery-config.js';
import { abortable, abortError, runSteps, stopOnAbort, throwIfAborted } from './abort.js';
import { countCopyData } from '../events/copy-data-counter.js';
import type { EventingProgressReporter } from '../events/progress-events.js';
import { RunTracker } from '../events/run-tracker.js';
import type { BackupEventListener, CompletionRecord } from '../events/types.js';

export interface BackupEnvironment {
  logger: Logger;
  /** Opens a replication connection (libpq rules); called once for the backup and once for WAL streaming. */
  connect: () => Promise<PgConnection>;
  /** primary_conninfo for -R, from the connection actually used (without `password` if asked). */
  recoveryConnInfo?: (conn: PgConnection, opts: { includePassword: boolean }) => string;
  /** Where `-D -` writes. */
  stdout: Writable;
  stderrIsTty: boolean;
  /** Stops the backup (cancel, close, clean up as after any failure); it then fails with PGBB_ABORTED. */
  signal?: AbortSignal | undefined;
  /** Called with the error before cleanup runs, so that messages come out in pg's order. */
  onError?: (err: unknown) => void;
  /** phase / progress / result / error events (src/events/types.ts). */
  onEvent?: BackupEventListener | undefined;
}

export interface BaseBackupResult {
  systemId: string;
  serverVersion: string;
  startLsn: Lsn;
  endLsn: Lsn;
  timeline: TimeLineId;
  tablespaces: TablespaceInfo[];
  /** Bytes of archive data received (after server compression). */
  bytesReceived: number;
  checksumFailure: false;
  /** What the completion marker and the `result` event say. */
  record: CompletionRecord;
}

/** The marker beside the target; one that cannot be written is a warning, as pg would have gone on without it. */
function beginDefaultMarker(track: RunTracker, basedir: string, fileMode: number, log: Logger): void {
  try {
    track.beginMarker(statusFileFor(basedir), fileMode);
  } catch (e) {
    log.warning(e instanceof Error ? e.message : String(e), undefined, 'Use --status-file=PATH to write the completion marker elsewhere, or --no-status-file.');
  }
}

export async function runBaseBackup(o: BackupOptions, env: BackupEnvironment): Promise<BaseBackupResult> {
  const log = env.logger;
  const cleanup = new BackupCleanup();
  let conn: PgConnection | undefined;
  let wal: WalStreamHandle | undefined;
  const toStdout = o.format === 'tar' && o.pgdata === '-';
  const track = new RunTracker(o, env.onEvent);
  const signal = env.signal;
  let progressRef: EventingProgressReporter | undefined;
  let verifier: LiveVerifier | undefined;
  let earlySync: EarlySync | undefined;
  const stopper = stopOnAbort(signal, () => conn);
  try {
    throwIfAborted(signal);
    // An explicit --status-file must be writable before anything else happens (nothing created otherwise).
    if (o.statusFile !== undefined) track.beginMarker(o.statusFile, 0o600);
    track.phase('connecting');
    conn = await env.connect();
    throwIfAborted(signal);
    const serverVersion = conn.parameters.get('server_version') ?? 'unknown';
    track.setServer(conn.host, conn.port, serverVersion);
    const dataDirMode = await retrieveDataDirCreatePerm(conn);
    const { dirMode, fileMode } = dataDirPerm(dataDirMode);

    // Target directory: always for plain, and for tar unless writing to stdout.
    const basedir = o.pgdata;
    if (basedir !== undefined && !toStdout) {
      cleanup.setDataDir(basedir, verifyDirIsEmptyOrCreate(basedir, dirMode));
      track.setTarget(basedir, fileMode);
      if (o.statusFile === undefined && !o.noStatusFile) beginDefaultMarker(track, basedir, fileMode, log);
    }

    const walSegSize = await retrieveWalSegSize(conn);

    if (o.walDir !== undefined && basedir !== undefined) {
      cleanup.setWalDir(o.walDir, verifyDirIsEmptyOrCreate(o.walDir, dirMode));
      const linkloc = join(basedir, 'pg_wal');
      try {
        symlinkSync(o.walDir, linkloc);
      } catch (e) {
        throw new FileError(`could not create symbolic link "${linkloc}": ${strerror(e)}`, linkloc, { cause: e });
      }
    }

    checkServerVersion(conn, o);
    const recoveryText = o.writeRecoveryConf ? buildRecoveryConfig(env.recoveryConnInfo?.(conn, { includePassword: !o.recoveryConfWithoutPassword }) ?? '', o.slot) : undefined;

    const system = await identifySystem(conn);
    if (o.incrementalManifest !== undefined) await uploadManifest(conn, o.incrementalManifest);

    const manifest = o.manifest;
    const target = o.target;
    const compression = resolveCompression(o.compression, target !== undefined, runtimeCompressionSupport);
    const command = buildBaseBackupCommand({
      label: o.label,
      estimateSize: o.estimateSize,
      includeWal: o.walMethod === 'fetch',
      fastCheckpoint: o.checkpoint === 'fast',
      noWait: o.walMethod !== 'none',
      maxRate: o.maxRate,
      tablespaceMap: o.format === 'tar' || target !== undefined,
      verifyChecksums: o.verifyChecksums,
      manifest,
      manifestForceEncode: o.manifestForceEncode,
      manifestChecksums: o.manifestChecksums,
      target: target?.name ?? 'client',
      targetDetail: target?.detail,
      compression: compression.server?.algorithm,
      compressionDetail: compression.server?.detail,
      incremental: o.incrementalManifest !== undefined,
    });

    if (o.verbose > 0) log.info('initiating base backup, waiting for checkpoint to complete');
    if (o.progress && o.verbose === 0) log.progress(`waiting for checkpoint${env.stderrIsTty ? '\r' : '\n'}`);
    track.phase('checkpoint');

    const reader = new BackupResponseReader(countCopyData(conn.query(command), (n) => progressRef?.addReceived(n), signal));
    const start = await reader.readStartPosition();
    if (o.verbose > 0) log.info('checkpoint completed');
    if (o.verbose > 0 && o.walMethod !== 'none') {
      log.info(`write-ahead log start point: ${start.startLsnText} on timeline ${start.startTli}`);
    }

    const tablespaces = await reader.readTablespaces();
    checkTablespaceList(tablespaces);
    const serverCompressed = compression.server !== undefined && compression.server.algorithm !== 'none';
    const progress = track.progressReporter({ isTty: env.stderrIsTty, write: (t) => log.progress(t), tablespaceCount: tablespaces.length, countReceived: !serverCompressed });
    progressRef = progress;
    progress.state.tablespaceCount = tablespaces.length;
    progress.state.totalSizeKb = tablespaces.reduce((a, t) => a + (t.sizeKb ?? 0n), 0n);

    const mapTablespace = tablespaceMapper(o.tablespaceMappings, basedir ?? '');
    if (target === undefined && o.format === 'plain') {
      for (const t of tablespaces) {
        if (t.location === null) continue;
        const path = mapTablespace(t.location);
        cleanup.addTablespaceDir(path, verifyDirIsEmptyOrCreate(path, dirMode));
      }
    }
    if (toStdout && tablespaces.length > 1) {
      throw new PgBasebackupError('PGBB_USAGE', `can only write single tablespace to stdout, database has ${tablespaces.length}`);
    }

    if (o.verify) {
      verifier = new LiveVerifier({
        algorithm: parseChecksumAlgorithm(o.manifestChecksums ?? 'CRC32C') ?? 'CRC32C',
        walSegSize,
        timeline: start.startTli,
        startLsn: start.startLsn,
        serverMajor: Math.floor(conn.serverVersionNum / 10000),
        checkWal: o.walMethod !== 'none',
      });
    }
    const liveVerifier = verifier;

    if (o.walMethod === 'stream') {
      if (o.verbose > 0) log.info('starting background WAL receiver');
      wal = await startWalStreaming({
        options: o,
        env,
        startLsn: start.startLsn,
        timeline: start.startTli,
        systemId: system.systemId,
        walSegSize,
        serverVersionNum: conn.serverVersionNum,
        basedir: basedir ?? '-',
        toStdout,
        fileMode,
        dirMode,
        tapWriter: liveVerifier ? (w) => tapWalWriter(w, (seg, off, data) => liveVerifier.walSegmentData(seg, off, data)) : undefined,
      });
      throwIfAborted(signal);
      const mainConn = conn;
      wal.onFailure((e) => {
        log.error(e instanceof Error ? e.message : String(e));
        mainConn.destroy(new PgBasebackupError('PGBB_WAL_RECEIVER', 'background process terminated unexpectedly', { cause: e }));
      });
    }

    const endPosition = endPositionOnce(reader, (e) => {
      if (o.verbose > 0 && o.walMethod !== 'none') log.info(`write-ahead log end point: ${e.endLsnText}`);
    });
    const waitingForWal = () => {
      if (o.verbose > 0) log.info('waiting for background process to finish streaming ...');
      track.phase('wal');
    };
    progress.begin();
    // Plain format, fsync: each extracted file is synced as soon as it is complete (early-sync.ts).
    if (!o.noSync && target === undefined && o.format === 'plain' && o.syncMethod !== 'syncfs' && basedir !== undefined) {
      earlySync = new EarlySync({ warn: (m) => log.warning(m), roots: () => plainBackupRoots(basedir) });
    }
    const early = earlySync;
    const receiving = receiveArchives(reader, {
      format: o.format,
      basedir: basedir ?? '-',
      toStdout,
      stdout: env.stdout,
      dataDirMode,
      mapTablespace,
      recoveryText,
      manifest,
      hasTarget: target !== undefined,
      tablespaces,
      streamsWalIntoPgWal: wal !== undefined && o.format === 'plain',
      compression,
      progress,
      beforeArchiveEnd: wal?.spool !== undefined ? appendStreamedWal(wal, endPosition, waitingForWal, env.signal) : undefined,
      verifier,
      fileDone: early === undefined ? undefined : (path, bytes) => early.fileDone(path, bytes),
      fileWritten: early === undefined ? undefined : (path, bytes) => early.fileWritten(path, bytes),
      writebackBytes: !o.noSync && target === undefined && o.format === 'tar' ? WRITEBACK_EVERY_BYTES : undefined,
    });
    // -D -: a write to a reader that stopped reading never returns; nothing on disk to clean after it.
    const received = await (toStdout ? abortable(receiving, signal) : receiving);
    progress.report(tablespaces.length, true, true); // pg's last line with -P; the final progress event

    const end = await endPosition();
    const final = await reader.readCommandComplete();
    if (final === 'checksum-failure') {
      cleanup.checksumFailure = true;
      throw new PgBasebackupError('PGBB_CHECKSUM', 'checksum error occurred');
    }

    // (-D -: the WAL was waited for before the archive ended, see stdout-wal.ts.)  `wal` stays set so
    // that a later failure still drops a -C slot.
    if (wal && wal.spool === undefined) {
      waitingForWal();
      await abortable(wal.finish(end.endLsn), signal);
      // pg_wal.tar.gz with client gzip (pg leaves it uncompressed for lz4/zstd): compression/gzip-file.ts.
      if (o.format === 'tar' && compression.client.algorithm === 'gzip' && basedir !== undefined) {
        await gzipFileInPlace(join(basedir, 'pg_wal.tar'), compression.client.level === -1 ? undefined : compression.client.level);
      }
    }

    // --verify: every file against the manifest, the WAL from start to end; nothing read back from disk.
    // Checked while the data is synced (CPU against I/O wait); its verdict comes before the manifest is
    // renamed into place, so a backup that fails it keeps backup_manifest.tmp, as after a checksum failure.
    let verification: Promise<string[]> | undefined;
    if (verifier !== undefined) {
      if (o.verbose > 0) log.info('verifying the backup against its manifest');
      const v = verifier;
      // Started on the next turn of the event loop, once the sync pass has its first files in flight.
      verification = new Promise<void>((resolve) => setImmediate(resolve)).then(() => v.finish(end.endLsn));
      verification.catch(() => undefined);
    }

    await conn.close();
    conn = undefined;

    // The last batch of small files; what early-sync.ts could not make durable is left to the final pass.
    let durable: ((path: string) => boolean) | undefined;
    if (earlySync !== undefined) {
      const isDurable = await earlySync.finish();
      durable = (path) => isDurable(resolve(path));
      earlySync = undefined;
    }

    if (!o.noSync && target === undefined) {
      if (o.verbose > 0) log.info('syncing data to disk ...');
      const warn = (m: string) => log.warning(m);
      if (!toStdout && basedir !== undefined) {
        track.phase('syncing');
        await runSteps(syncBackupSteps(o.format, basedir, o.syncMethod, warn, undefined, durable), signal);
      }
    }

    if (verification !== undefined) {
      const problems = await verification;
      verifier = undefined;
      if (problems.length > 0) {
        cleanup.checksumFailure = true; // the data is kept, as after a page checksum failure
        const [first, ...rest] = problems;
        throw new PgBasebackupError('PGBB_CHECKSUM', first as string, { detail: rest.length > 20 ? [...rest.slice(0, 20), `... and ${rest.length - 20} more problems`] : rest });
      }
      if (o.verbose > 0) log.info('backup verified');
    }

    if (!toStdout && manifest && target === undefined && basedir !== undefined) {
      if (o.verbose > 0) log.info('renaming backup_manifest.tmp to backup_manifest');
      const tmp = join(basedir, 'backup_manifest.tmp');
      const final = join(basedir, 'backup_manifest');
      if (o.noSync) plainRename(tmp, final);
      else durableRename(tmp, final, (m) => log.warning(m));
    }

    const incrementalFrom = o.incrementalManifest !== undefined ? incrementalParent(o.incrementalManifest) : null;
    const record = track.complete({ ...start, ...end, walSegSize, bytes: received.bytes, systemId: system.systemId, tablespaces, incrementalFrom,
      mapLocation: o.format === 'plain' && target === undefined ? mapTablespace : undefined });
    if (o.verbose > 0) log.info('base backup completed');
    return {
      record,
      systemId: system.systemId,
      serverVersion,
      startLsn: start.startLsn,
      endLsn: end.endLsn,
      timeline: start.startTli,
      tablespaces,
      bytesReceived: received.bytes,
      checksumFailure: false,
    };
  } catch (caught) {
    // A failed WAL receiver is the real cause of whatever the main connection then saw.
    // A stopped backup reports the stop, whatever the torn-down connections said.
    const err = signal?.aborted ? abortError(signal) : wal?.error !== undefined ? new PgBasebackupError('PGBB_WAL_RECEIVER', 'background process terminated unexpectedly', { cause: wal.error }) : caught;
    if (wal) await wal.abort().catch(() => undefined);
    if (verifier) await verifier.abort().catch(() => undefined);
    await earlySync?.stop();
    if (conn) conn.destroy();
    await stopper.cancelled;
    env.onError?.(err);
    const markerProblem = track.fail(err);
    if (markerProblem !== undefined) log.warning(markerProblem instanceof Error ? markerProblem.message : String(markerProblem));
    cleanup.run(o.noClean, log);
    throw err;
  } finally {
    stopper.dispose();
  }
}
