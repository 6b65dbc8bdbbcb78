/**
 * The library API: `baseBackup(options, control)` runs one backup the way the command line does
 * (the CLI is a thin layer over the same runner), with typed options named after the long options in
 * camelCase, an AbortSignal, events, a typed result and typed errors (src/errors.ts: every failure
 * is a PgBasebackupError with a stable `code` and pg_basebackup's message).
 *
 *   const result = await baseBackup({ pgdata: '/backups/b1', host: '/var/run/postgresql', walMethod: 'stream' },
 *                                   { signal: AbortSignal.timeout(3600_000), onEvent: (e) => console.log(e) });
 *
 * Option values are checked as on the command line, with pg's messages (UsageError, code PGBB_USAGE).
 * Nothing is printed: messages go to `control.logger` when given.
 */
import type { Writable } from 'node:stream';
import { runBackup } from './backup/run-backup.js';
import { EventQueue } from './events/event-queue.js';
import type { BackupEvent, BackupEventListener, CompletionRecord } from './events/types.js';
import { silentLogger, type Logger } from './log.js';
import { defaultBackupOptions, type BackupFormat, type BackupOptions, type PasswordMode, type SyncMethod, type WalMethod } from './options/backup-options.js';
import { canonicalizePath } from './options/canonicalize-path.js';
import { parseCompressOptions } from './options/compression-spec.js';
import { parseMaxRate } from './options/max-rate.js';
import { parseBackupTarget, parseCheckpoint, parseFormat, parseStatusInterval, parseSyncMethod, parseWalMethod } from './options/option-values.js';
import { parseTablespaceMapping } from './options/tablespace-mapping.js';
import { validateOptions } from './options/validate.js';

/** The command line's options, camelCase; every field is optional except what pg requires (-D or -t). */
export interface BaseBackupOptions {
  /** -D: the directory to write to (`'-'` with format 'tar': `control.stdout`). */
  pgdata?: string;
  /** -F */
  format?: BackupFormat | 'p' | 't';
  /** -t: 'server:/dir', 'blackhole' (or 'client', the default). */
  target?: string;
  /** -X */
  walMethod?: WalMethod | 'n' | 'f' | 's';
  /** --waldir */
  walDir?: string;
  /** -T, each 'OLDDIR=NEWDIR' or a pair of directories. */
  tablespaceMappings?: (string | { oldDir: string; newDir: string })[];
  /** -Z, e.g. 'gzip', 'server-zstd:level=5', 'client-lz4'. */
  compression?: string;
  /** -r: kB/s, or text with a unit as on the command line ('32k', '10M'). */
  maxRate?: number | string;
  /** -c */
  checkpoint?: 'fast' | 'spread';
  /** -l */
  label?: string;
  /** -R, --recovery-conf-without-password */
  writeRecoveryConf?: boolean;
  recoveryConfWithoutPassword?: boolean;
  /** -S, -C, --no-slot */
  slot?: string;
  createSlot?: boolean;
  noSlot?: boolean;
  /** -i */
  incrementalManifest?: string;
  /** -n, -N */
  noClean?: boolean;
  noSync?: boolean;
  /** -P, -v: pg's progress lines and verbose messages, to `control.logger`. */
  progress?: boolean;
  verbose?: number;
  /** -d, -h, -p, -U */
  connInfo?: string;
  host?: string;
  port?: string | number;
  user?: string;
  /** -s, seconds */
  statusInterval?: number;
  /** !--no-verify-checksums, !--no-estimate-size, !--no-manifest */
  verifyChecksums?: boolean;
  estimateSize?: boolean;
  manifest?: boolean;
  /** --manifest-checksums, --manifest-force-encode */
  manifestChecksums?: string;
  manifestForceEncode?: boolean;
  /** --sync-method */
  syncMethod?: SyncMethod;
  /** --json-events: also write the events as JSON lines ('stderr', 'fd:N' or a file path). */
  jsonEvents?: string;
  /** --status-file: the completion marker at this path instead of beside the target (also for pgdata '-' and targets). */
  statusFile?: string;
  /** --no-status-file: write no completion marker. */
  noStatusFile?: boolean;
  /** --verify: check files and WAL against the manifest while they arrive; a mismatch fails the backup (code PGBB_CHECKSUM). */
  verify?: boolean;
}

export interface BaseBackupControl {
  /** Abort the backup: the server's command is cancelled, connections closed, files removed (unless noClean). */
  signal?: AbortSignal;
  /** phase, progress, result and error events. */
  onEvent?: BackupEventListener;
  /** pg_basebackup's messages (info, warnings, -P lines); silent by default. */
  logger?: Partial<Logger>;
  /** The password, or a function asked when the server wants one (-W: asked before connecting). */
  password?: string | ((prompt: string) => string | Promise<string>);
  /** -w / -W; default 'auto'. */
  passwordMode?: PasswordMode;
  /** libpq environment variables (PGHOST, PGPASSWORD, PGSSLMODE ...); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where pgdata '-' writes; default process.stdout. */
  stdout?: Writable;
}

export interface BackupTablespace {
  oid: string;
  location: string;
  /** Where it was written (plain format); null for tar. */
  mappedLocation: string | null;
}

/** A completed backup; `record` is the completion marker's final content. */
export interface BackupResult {
  runId: string;
  /** Real path of the target directory; null for pgdata '-' and backup targets. */
  target: string | null;
  label: string;
  startLsn: string;
  endLsn: string;
  timeline: number;
  startedAt: string;
  finishedAt: string;
  bytes: number;
  format: BackupFormat;
  walMethod: WalMethod;
  /** First and last WAL segment the backup needs. */
  walStart: string;
  walEnd: string;
  tablespaces: BackupTablespace[];
  systemIdentifier: string;
  manifest: boolean;
  /** -i: the parent backup (INCREMENTAL FROM LSN/TLI and the parent manifest's Manifest-Checksum); null for a full backup. */
  incrementalFrom: { lsn: string; timeline: number; manifestChecksum: string } | null;
  serverVersion: string;
  record: CompletionRecord;
}

function escapeMappingDir(dir: string): string {
  return dir.replace(/=/g, '\\=');
}

/** The checked BackupOptions for `options` (throws UsageError with pg's message, as the command line would). */
export function toBackupOptions(options: BaseBackupOptions, passwordMode: PasswordMode = 'auto'): BackupOptions {
  const o = defaultBackupOptions();
  const v = options;
  if (v.pgdata !== undefined) o.pgdata = v.pgdata;
  if (v.format !== undefined) {
    o.format = parseFormat(v.format);
    o.formatSpecified = true;
  }
  if (v.target !== undefined) {
    const t = parseBackupTarget(v.target);
    if (t !== undefined) o.target = t;
  }
  if (v.walMethod !== undefined) o.walMethod = parseWalMethod(v.walMethod);
  if (v.walDir !== undefined) o.walDir = canonicalizePath(v.walDir);
  for (const m of v.tablespaceMappings ?? []) {
    o.tablespaceMappings.push(parseTablespaceMapping(typeof m === 'string' ? m : `${escapeMappingDir(m.oldDir)}=${escapeMappingDir(m.newDir)}`));
  }
  if (v.compression !== undefined) o.compression = parseCompressOptions(v.compression);
  if (v.maxRate !== undefined) o.maxRate = parseMaxRate(String(v.maxRate));
  if (v.checkpoint !== undefined) o.checkpoint = parseCheckpoint(v.checkpoint);
  if (v.statusInterval !== undefined) o.statusInterval = parseStatusInterval(String(v.statusInterval));
  if (v.syncMethod !== undefined) o.syncMethod = parseSyncMethod(v.syncMethod, process.platform === 'linux');
  if (v.port !== undefined) o.port = String(v.port);
  const copied = [
    'label', 'writeRecoveryConf', 'recoveryConfWithoutPassword', 'slot', 'createSlot', 'noSlot', 'incrementalManifest',
    'noClean', 'noSync', 'progress', 'verbose', 'connInfo', 'host', 'user', 'verifyChecksums', 'estimateSize',
    'manifest', 'manifestChecksums', 'manifestForceEncode', 'jsonEvents', 'statusFile', 'noStatusFile', 'verify',
  ] as const;
  const target = o as unknown as Record<string, unknown>;
  for (const k of copied) if (v[k] !== undefined) target[k] = v[k];
  o.passwordMode = passwordMode;
  validateOptions(o);
  return o;
}

function toResult(r: CompletionRecord, serverVersion: string): BackupResult {
  return {
    runId: r.run_id,
    target: r.target,
    label: r.label,
    startLsn: r.start_lsn,
    endLsn: r.end_lsn,
    timeline: r.timeline,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    bytes: r.bytes,
    format: r.format,
    walMethod: r.wal_method,
    walStart: r.wal.start,
    walEnd: r.wal.end,
    tablespaces: r.tablespaces.map((t) => ({ oid: t.oid, location: t.location, mappedLocation: t.mapped_location })),
    systemIdentifier: r.system_identifier,
    manifest: r.manifest,
    incrementalFrom: r.incremental_from === null ? null : { lsn: r.incremental_from.lsn, timeline: r.incremental_from.timeline, manifestChecksum: r.incremental_from.manifest_checksum },
    serverVersion,
    record: r,
  };
}

/** Run one base backup.  Rejects with a PgBasebackupError (code PGBB_ABORTED when `control.signal` fired). */
export async function baseBackup(options: BaseBackupOptions, control: BaseBackupControl = {}): Promise<BackupResult> {
  const pw = control.password;
  const o = toBackupOptions(options, control.passwordMode ?? 'auto');
  const result = await runBackup(o, {
    logger: { ...silentLogger, ...control.logger },
    signal: control.signal,
    onEvent: control.onEvent,
    stdout: control.stdout ?? process.stdout,
    stderrIsTty: false,
    promptPassword: pw === undefined ? undefined : async (prompt) => (typeof pw === 'function' ? pw(prompt) : pw),
    env: control.env,
  });
  return toResult(result.record, result.serverVersion);
}

export interface BackupWatch {
  /** The run's events, ending after its `result` or `error` event. */
  events: AsyncIterableIterator<BackupEvent>;
  /** As baseBackup()'s promise. */
  result: Promise<BackupResult>;
}

/** baseBackup() with its events as an async iterator (control.onEvent, if given, is called too). */
export function watchBaseBackup(options: BaseBackupOptions, control: BaseBackupControl = {}): BackupWatch {
  const queue = new EventQueue<BackupEvent>();
  const onEvent: BackupEventListener = (ev) => {
    queue.push(ev);
    control.onEvent?.(ev);
  };
  const result = (async () => baseBackup(options, { ...control, onEvent }))();
  const ended = result.finally(() => queue.end());
  ended.catch(() => undefined);
  return { events: queue, result };
}
