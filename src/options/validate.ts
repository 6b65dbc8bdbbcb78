/**
 * The option-combination checks pg_basebackup's main() makes after parsing and before connecting, with
 * pg's texts, in pg's order (reference.md §1.3, steps 2-19; step 1, stray arguments, belongs to the
 * command line: parse-args.ts).
 */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { BackupOptions } from './backup-options.js';
import { canonicalizePath, isAbsolutePath } from './canonicalize-path.js';
import { defaultCompressionSupport, resolveCompression, type CompressionSupport } from './compression-spec.js';
import { parseJsonEventsDestination } from '../events/json-lines.js';

function usage(message: string): never {
  throw new UsageError(message, { hint: true });
}

/**
 * Throws the first UsageError pg would report for this combination; all carry the "Try --help" hint
 * except the compression specification errors (pg_fatal there).
 */
export function validateOptions(o: BackupOptions, support: CompressionSupport = defaultCompressionSupport): void {
  const hasTarget = o.target !== undefined;
  // With a target pg leaves the format at plain internally; any explicit -F is refused.
  if (hasTarget && (o.formatSpecified || o.format !== 'plain')) usage('cannot specify both format and backup target');
  if (o.pgdata === undefined && !hasTarget) usage('must specify output directory or backup target');
  if (o.pgdata !== undefined && hasTarget) usage('cannot specify both output directory and backup target');

  const compression = resolveCompression(o.compression, hasTarget, support);
  if (hasTarget && compression.location === 'client') {
    usage('client-side compression is not possible when a backup target is specified');
  }
  if (o.format === 'plain' && compression.location === 'client' && compression.client.algorithm !== 'none') {
    usage('only tar mode backups can be compressed');
  }

  if (hasTarget && o.walMethod === 'stream') usage('WAL cannot be streamed when a backup target is specified');
  // pg's check 9 ("cannot stream write-ahead logs in tar mode to stdout") is gone: the streamed WAL
  // is appended to the archive on stdout (src/backup/wal-spool.ts).  That needs an archive this
  // client can parse, so not a server-compressed one.
  if (o.format === 'tar' && o.walMethod === 'stream' && o.pgdata === '-' && compression.server !== undefined && compression.server.algorithm !== 'none') {
    usage('cannot stream write-ahead logs into a server-compressed tar archive on standard output');
  }
  if (o.slot !== undefined && o.walMethod !== 'stream') usage('replication slots can only be used with WAL streaming');

  if (o.noSlot && o.slot !== undefined) usage('--no-slot cannot be used with slot name');
  if (o.createSlot) {
    if (o.slot === undefined) usage('--create-slot needs a slot to be specified using --slot');
    if (o.noSlot) usage('--create-slot and --no-slot are incompatible options');
  }

  if (o.walDir !== undefined) {
    if (hasTarget) usage('WAL directory location cannot be specified along with a backup target');
    if (o.format !== 'plain') usage('WAL directory location can only be specified in plain mode');
    if (!isAbsolutePath(canonicalizePath(o.walDir))) usage('WAL directory location must be an absolute path');
  }

  if (o.progress && !o.estimateSize) usage('--progress and --no-estimate-size are incompatible options');
  if (!o.manifest && o.manifestChecksums !== undefined) {
    usage('--no-manifest and --manifest-checksums are incompatible options');
  }
  if (!o.manifest && o.manifestForceEncode) usage('--no-manifest and --manifest-force-encode are incompatible options');
  // Beyond pg.
  if (o.recoveryConfWithoutPassword && !o.writeRecoveryConf) {
    usage('--recovery-conf-without-password needs --write-recovery-conf');
  }
  if (o.verify && !o.manifest) usage('--verify and --no-manifest are incompatible options');
  if (o.verify && hasTarget) usage('--verify cannot be used with a backup target');
  if (o.statusFile !== undefined && o.noStatusFile) usage('--status-file and --no-status-file are incompatible options');
  if (o.statusFile === '') usage('status file name must not be empty');
  if (o.statusFile !== undefined) {
    // Never inside a target: the target holds exactly what pg_basebackup writes.
    const file = resolve(o.statusFile);
    for (const dir of [o.pgdata === '-' ? undefined : o.pgdata, o.walDir, ...o.tablespaceMappings.map((m) => m.newDir)]) {
      if (dir !== undefined && (file === resolve(dir) || file.startsWith(`${resolve(dir)}/`))) {
        usage(`status file "${o.statusFile}" must not be inside a target directory`);
      }
    }
  }
  if (o.jsonEvents !== undefined) {
    const dest = parseJsonEventsDestination(o.jsonEvents);
    if (dest.kind === 'fd' && dest.fd === 1 && o.format === 'tar' && o.pgdata === '-') {
      usage('--json-events cannot write to standard output when the backup goes there');
    }
  }
}
