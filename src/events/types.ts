/**
 * What a backup reports while it runs: the objects that `--json-events` writes one per line, and that
 * the library API hands to `onEvent` and its event iterator.  Keys are snake_case, as on the wire.
 *
 * Every event has `event` (its kind) and `time` (ISO 8601).  Kinds:
 * - `phase`: the backup entered a phase, in this order (some are skipped when they do not apply):
 *   connecting → checkpoint ("waiting for checkpoint", before the server answers BASE_BACKUP) →
 *   streaming (once per tablespace, `tablespace` i of `tablespaces` n) → wal (waiting for the WAL
 *   receiver) → syncing → done;
 * - `progress`: bytes done, the server's estimated total, rate and ETA, at most 4 times a second;
 * - `result`: the completed backup (the same record as the completion marker's final state);
 * - `error`: the failure that ended the run.
 */
import type { ErrorCode } from '../errors.js';

export type BackupPhase = 'connecting' | 'checkpoint' | 'streaming' | 'wal' | 'syncing' | 'done';

/** Human wording of each phase (the `message` of a phase event). */
export const PHASE_MESSAGES: Readonly<Record<BackupPhase, string>> = {
  connecting: 'connecting',
  checkpoint: 'waiting for checkpoint',
  streaming: 'streaming',
  wal: 'waiting for WAL receiver',
  syncing: 'syncing data to disk',
  done: 'done',
};

export interface PhaseEvent {
  event: 'phase';
  time: string;
  phase: BackupPhase;
  message: string;
  /** `streaming`: 1-based number of the tablespace (archive) being received, and how many there are. */
  tablespace?: number;
  tablespaces?: number;
}

export interface ProgressEvent {
  event: 'progress';
  time: string;
  /** Bytes of the backup received so far (before any client-side compression). */
  bytes_done: number;
  /** The server's estimate of the whole backup (grows if exceeded); null without an estimate. */
  bytes_total: number | null;
  /** Recent transfer rate, bytes per second. */
  rate: number;
  /** Seconds left at that rate; null when unknown. */
  eta: number | null;
  /** 1-based number of the tablespace being received, of `tablespaces`. */
  tablespace: number;
  tablespaces: number;
}

/** One tablespace of the backup (the main data directory is not listed). */
export interface TablespaceRecord {
  oid: string;
  /** The location on the server. */
  location: string;
  /** Where it was written (plain format, after -T); null in tar format. */
  mapped_location: string | null;
}

/** Identity of a run, fixed when it starts: the head of the completion marker. */
export interface RunIdentity {
  format_version: 1;
  run_id: string;
  tool: 'pg-basebackup';
  tool_version: string;
  pid: number;
  host: string;
  /** Real path of the target directory; null for `-D -` and `-t`. */
  target: string | null;
  /** The completion marker's own path (beside the target, or --status-file); null with none. */
  status_file: string | null;
  label: string;
  server: { host: string; port: number; version: string } | null;
  started_at: string;
}

/** What a completed backup reports: the final completion marker and the `result` event. */
export interface CompletionRecord extends RunIdentity {
  status: 'complete';
  finished_at: string;
  start_lsn: string;
  end_lsn: string;
  timeline: number;
  /** Archive bytes received from the server (after server-side compression, if any). */
  bytes: number;
  format: 'plain' | 'tar';
  wal_method: 'none' | 'fetch' | 'stream';
  /** The WAL segments the backup needs to be consistent: first and last file name. */
  wal: { start: string; end: string };
  tablespaces: TablespaceRecord[];
  system_identifier: string;
  /** A backup_manifest was made. */
  manifest: boolean;
  /** An incremental backup (-i): its parent, as backup_label's INCREMENTAL FROM lines and the parent manifest's checksum; null for a full backup. */
  incremental_from: IncrementalFrom | null;
}

export interface IncrementalFrom {
  lsn: string;
  timeline: number;
  manifest_checksum: string;
}

export interface ErrorRecord {
  /** Stable code (src/errors.ts). */
  code: ErrorCode;
  /** pg_basebackup's message, as printed after "pg_basebackup: error: ". */
  message: string;
  /** SQLSTATE, when the failure came from the server. */
  sqlstate: string | null;
  detail: string[];
  hint: string | null;
}

export type ResultEvent = { event: 'result'; time: string } & CompletionRecord;
export type ErrorEvent = { event: 'error'; time: string } & ErrorRecord;

export type BackupEvent = PhaseEvent | ProgressEvent | ResultEvent | ErrorEvent;

export type BackupEventListener = (event: BackupEvent) => void;
