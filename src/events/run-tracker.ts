/**
 * What one backup run tells the outside world, in one place: its identity (run id, start time,
 * target, server), `phase`/`progress`/`result`/`error` events, and the completion marker
 * (src/backup/completion-marker.ts).  runBaseBackup() calls it at each step; it never throws for
 * a listener's sake (a listener that throws is ignored).
 */
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { TablespaceInfo } from '../backup/backup-response.js';
import { CompletionMarker } from '../backup/completion-marker.js';
import { toolVersion } from '../backup/tool-version.js';
import { FileError, strerror } from '../errors.js';
import { formatLsn, lsnToSegNo, walFileName, type Lsn, type TimeLineId } from '../lsn.js';
import type { BackupOptions } from '../options/backup-options.js';
import { randomUuid } from '../random-uuid.js';
import { errorRecord } from './error-record.js';
import { EventingProgressReporter } from './progress-events.js';
import { PHASE_MESSAGES, type BackupEvent, type BackupEventListener, type BackupPhase, type CompletionRecord, type IncrementalFrom, type RunIdentity, type TablespaceRecord } from './types.js';

type EventBody<K extends BackupEvent['event']> = Omit<Extract<BackupEvent, { event: K }>, 'event' | 'time'>;

export interface CompletionDetails {
  startLsn: Lsn;
  startTli: TimeLineId;
  endLsn: Lsn;
  /** Result set 3's timeline (the start timeline when the server sent none). */
  endTli: TimeLineId | undefined;
  walSegSize: number;
  bytes: number;
  /** Result set 2's rows (the main data directory, without an oid, is left out). */
  tablespaces: TablespaceInfo[];
  /** Plain format: where each tablespace was written (-T). */
  mapLocation?: ((location: string) => string) | undefined;
  systemId: string;
  /** -i: the parent (src/backup/incremental-parent.ts). */
  incrementalFrom?: IncrementalFrom | null | undefined;
}

export class RunTracker {
  readonly identity: RunIdentity;
  private marker: CompletionMarker | undefined;
  private ended = false;

  constructor(
    private readonly o: BackupOptions,
    private readonly listener: BackupEventListener | undefined,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.identity = {
      format_version: 1,
      run_id: randomUuid(),
      tool: 'pg-basebackup',
      tool_version: toolVersion(),
      pid: process.pid,
      host: hostname(),
      target: null,
      status_file: null,
      label: o.label,
      server: null,
      started_at: this.clock().toISOString(),
    };
  }

  private emit<K extends BackupEvent['event']>(event: K, body: EventBody<K>): void {
    if (this.listener === undefined) return;
    try {
      this.listener({ event, time: this.clock().toISOString(), ...body } as unknown as BackupEvent);
    } catch {
      // A listener's failure must not change the backup's course.
    }
  }

  phase(phase: BackupPhase, extra: { tablespace?: number; tablespaces?: number } = {}): void {
    this.emit('phase', { phase, message: PHASE_MESSAGES[phase], ...extra });
  }

  setServer(host: string, port: number, version: string): void {
    this.identity.server = { host, port, version };
  }

  /**
   * Write the "in progress" marker at `path` (src/backup/completion-marker.ts); throws a FileError
   * when it cannot be written (nothing is recorded then).
   */
  beginMarker(path: string, fileMode: number): void {
    const statusFile = resolve(path);
    this.identity.status_file = statusFile;
    try {
      this.marker = CompletionMarker.begin(statusFile, this.identity, { fileMode, noSync: this.o.noSync });
    } catch (e) {
      this.identity.status_file = null;
      const cause = e instanceof FileError && e.cause !== undefined ? e.cause : e;
      throw new FileError(`could not write status file "${statusFile}": ${strerror(cause)}`, statusFile, { cause });
    }
  }

  /** The target directory exists and is empty: record its real path (in the marker too, if there is one). */
  setTarget(directory: string, fileMode: number): void {
    this.identity.target = realpathSync(directory);
    this.marker?.update(this.identity, fileMode);
  }

  progressReporter(opts: { isTty: boolean; write: (t: string) => void; tablespaceCount: number; countReceived: boolean }): EventingProgressReporter {
    return new EventingProgressReporter({
      enabled: this.o.progress,
      verbose: this.o.verbose > 0,
      ...opts,
      onPhase: (phase, extra) => this.phase(phase, extra),
      onProgress: (p) => this.emit('progress', p),
    });
  }

  /** Everything is on disk: the final marker, then the `result` event and the `done` phase. */
  complete(d: CompletionDetails): CompletionRecord {
    const endTli = d.endTli ?? d.startTli;
    const record: CompletionRecord = {
      status: 'complete',
      ...this.identity,
      finished_at: this.clock().toISOString(),
      start_lsn: formatLsn(d.startLsn),
      end_lsn: formatLsn(d.endLsn),
      timeline: d.startTli,
      bytes: d.bytes,
      format: this.o.format,
      wal_method: this.o.walMethod,
      wal: {
        start: walFileName(d.startTli, lsnToSegNo(d.startLsn, d.walSegSize), d.walSegSize),
        // XLByteToPrevSeg, as pg's backup history file names the stop segment.
        end: walFileName(endTli, lsnToSegNo(d.endLsn > 0n ? d.endLsn - 1n : 0n, d.walSegSize), d.walSegSize),
      },
      tablespaces: d.tablespaces.flatMap((t): TablespaceRecord[] =>
        t.oid === null || t.location === null ? [] : [{ oid: t.oid, location: t.location, mapped_location: d.mapLocation?.(t.location) ?? null }],
      ),
      system_identifier: d.systemId,
      manifest: this.o.manifest,
      incremental_from: d.incrementalFrom ?? null,
    };
    this.marker?.complete(record);
    this.ended = true;
    this.emit('result', record);
    this.phase('done');
    return record;
  }

  /**
   * The run failed: the `error` event, and a "failed" marker (beside the target: it stays when cleanup
   * removes the directory).  Returns a problem writing the marker, for a warning.
   */
  fail(err: unknown): unknown {
    if (this.ended) return undefined;
    this.ended = true;
    const rec = errorRecord(err);
    this.emit('error', rec);
    try {
      this.marker?.fail(this.identity, rec, this.clock().toISOString());
    } catch (e) {
      return e;
    }
    return undefined;
  }
}
