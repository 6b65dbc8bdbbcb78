/**
 * The one typed form of pg_basebackup's command line, shared by the CLI and the library API.
 * Field names follow pg's long options; comments name pg's variables.
 */
import { NO_COMPRESSION, type CompressionSpec } from './compression-spec.js';
import type { TablespaceMapping } from './tablespace-mapping.js';

export type { CompressionSpec } from './compression-spec.js';
export type { TablespaceMapping } from './tablespace-mapping.js';

export type BackupFormat = 'plain' | 'tar';
export type WalMethod = 'none' | 'fetch' | 'stream';
export type PasswordMode = 'auto' | 'never' | 'always';
export type SyncMethod = 'fsync' | 'syncfs';

/**
 * `-t/--target=TARGET[:DETAIL]` other than "client" (which means no target): sent as TARGET 'name'
 * and, when a ':' was present, TARGET_DETAIL 'detail' (whatever the name: server extensions may add
 * targets, e.g. "shell").  The server judges both.
 */
export interface BackupTarget {
  name: string;
  detail: string | undefined;
}

/** pg's default -X since PostgreSQL 10.  The one place to change the default WAL method. */
export const DEFAULT_WAL_METHOD: WalMethod = 'stream';
/** pg's default -l. */
export const DEFAULT_LABEL = 'pg_basebackup base backup';
/** pg's default -s, seconds. */
export const DEFAULT_STATUS_INTERVAL = 10;

export interface BackupOptions {
  /** -D (basedir); "-" with tar format means stdout. */
  pgdata?: string;
  /** -F (format); plain unless given. */
  format: BackupFormat;
  /** -F was given (pg rejects it together with -t even when it says plain). */
  formatSpecified: boolean;
  /** -c; undefined when not given (spread: nothing is sent). */
  checkpoint: 'fast' | 'spread' | undefined;
  /** -C (create_slot) */
  createSlot: boolean;
  /** -r (maxrate), kB/s in 32..1048576; undefined = no limit. */
  maxRate?: number;
  /** -R (writerecoveryconf) */
  writeRecoveryConf: boolean;
  /** Beyond pg, --recovery-conf-without-password: -R leaves `password` out of primary_conninfo. */
  recoveryConfWithoutPassword: boolean;
  /** -S (replication_slot); set means a permanent slot, no temporary one. */
  slot?: string;
  /** -t other than "client" (backup_target). */
  target?: BackupTarget;
  /** -T, in command-line order (tablespace_dirs). */
  tablespaceMappings: TablespaceMapping[];
  /** -i (incremental_manifest): path of the manifest of the backup this one is incremental to. */
  incrementalManifest?: string;
  /** -X (includewal) */
  walMethod: WalMethod;
  /** -z / -Z as given; resolve with resolveCompression() (compression-spec.ts). */
  compression: CompressionSpec;
  /** -l (label) */
  label: string;
  /** -n (noclean) */
  noClean: boolean;
  /** -N (!do_sync) */
  noSync: boolean;
  /** -P (showprogress) */
  progress: boolean;
  /** -v, counted (verbose) */
  verbose: number;
  /** -d (connection_string) */
  connInfo?: string;
  /** -h (dbhost) */
  host?: string;
  /** -p (dbport) */
  port?: string;
  /** -U (dbuser) */
  user?: string;
  /** -w never, -W always, else auto (dbgetpassword -1 / 1 / 0); the last one given wins. */
  passwordMode: PasswordMode;
  /** -s in seconds, 0..2147483 (standby_message_timeout / 1000); 0 = no periodic status packets. */
  statusInterval: number;
  /** --waldir (xlog_dir), canonicalized. */
  walDir?: string;
  /** --no-slot */
  noSlot: boolean;
  /** !--no-verify-checksums (verify_checksums) */
  verifyChecksums: boolean;
  /** !--no-estimate-size (estimatesize) */
  estimateSize: boolean;
  /** !--no-manifest (manifest) */
  manifest: boolean;
  /** --manifest-checksums, as given (the server checks it, case-insensitively). */
  manifestChecksums?: string;
  /** --manifest-force-encode */
  manifestForceEncode: boolean;
  /** --sync-method (17+) */
  syncMethod: SyncMethod;
  /** Beyond pg, --json-events=DEST: `stderr`, `fd:N` or a file path (src/events/json-lines.ts). */
  jsonEvents?: string;
  /** Beyond pg, --status-file=PATH: the completion marker there instead of beside the target (src/backup/completion-marker.ts). */
  statusFile?: string;
  /** Beyond pg, --no-status-file: no completion marker. */
  noStatusFile: boolean;
  /** Beyond pg, --verify: check every file and the WAL against the manifest while they arrive (src/backup/live-verify/). */
  verify: boolean;
}

/** pg_basebackup's defaults: what an empty command line (plus -D) means. */
export function defaultBackupOptions(): BackupOptions {
  return {
    format: 'plain',
    formatSpecified: false,
    checkpoint: undefined,
    createSlot: false,
    writeRecoveryConf: false,
    recoveryConfWithoutPassword: false,
    tablespaceMappings: [],
    walMethod: DEFAULT_WAL_METHOD,
    compression: { ...NO_COMPRESSION },
    label: DEFAULT_LABEL,
    noClean: false,
    noSync: false,
    progress: false,
    verbose: 0,
    passwordMode: 'auto',
    statusInterval: DEFAULT_STATUS_INTERVAL,
    noSlot: false,
    verifyChecksums: true,
    estimateSize: true,
    manifest: true,
    manifestForceEncode: false,
    syncMethod: 'fsync',
    noStatusFile: false,
    verify: false,
  };
}

/** pg's temp_replication_slot: a temporary slot is created when streaming with neither -S nor --no-slot. */
export function usesTemporarySlot(o: BackupOptions): boolean {
  return o.walMethod === 'stream' && o.slot === undefined && !o.noSlot;
}
