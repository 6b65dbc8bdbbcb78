/**
 * The BASE_BACKUP command text, as pg_basebackup 15+ builds it for servers 15+ (parenthesized option
 * list; see PROTO "BASE_BACKUP" and pg_basebackup.c's BaseBackup()).  Pure: no I/O.
 */

export interface BaseBackupCommandOptions {
  label: string;
  /** PROGRESS: ask the server to estimate sizes (omitted with --no-estimate-size). */
  estimateSize: boolean;
  /** WAL: include the needed WAL in the base archive (-X fetch). */
  includeWal: boolean;
  fastCheckpoint: boolean;
  /** WAIT 0: don't wait for WAL archiving (any WAL method but none). */
  noWait: boolean;
  /** MAX_RATE in kB/s. */
  maxRate?: number | undefined;
  tablespaceMap: boolean;
  verifyChecksums: boolean;
  manifest: boolean;
  manifestForceEncode: boolean;
  manifestChecksums?: string | undefined;
  /** 'client', 'server', 'blackhole', ... */
  target: string;
  targetDetail?: string | undefined;
  compression?: string | undefined;
  compressionDetail?: string | undefined;
  incremental?: boolean | undefined;
}

/** Quote a string literal for the replication grammar (standard_conforming_strings: double the quotes). */
export function quoteReplicationString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export function buildBaseBackupCommand(o: BaseBackupCommandOptions): string {
  const opts: string[] = [];
  const str = (name: string, value: string) => opts.push(`${name} ${quoteReplicationString(value)}`);
  str('LABEL', o.label);
  if (o.estimateSize) opts.push('PROGRESS');
  if (o.includeWal) opts.push('WAL');
  if (o.fastCheckpoint) str('CHECKPOINT', 'fast');
  if (o.noWait) opts.push('WAIT 0');
  if (o.maxRate !== undefined && o.maxRate > 0) opts.push(`MAX_RATE ${o.maxRate}`);
  if (o.tablespaceMap) opts.push('TABLESPACE_MAP');
  if (!o.verifyChecksums) opts.push('VERIFY_CHECKSUMS 0');
  if (o.manifest) {
    str('MANIFEST', o.manifestForceEncode ? 'force-encode' : 'yes');
    if (o.manifestChecksums !== undefined) str('MANIFEST_CHECKSUMS', o.manifestChecksums);
  }
  str('TARGET', o.target);
  if (o.targetDetail !== undefined) str('TARGET_DETAIL', o.targetDetail);
  if (o.compression !== undefined) {
    str('COMPRESSION', o.compression);
    if (o.compressionDetail !== undefined) str('COMPRESSION_DETAIL', o.compressionDetail);
  }
  if (o.incremental) opts.push('INCREMENTAL');
  return `BASE_BACKUP ( ${opts.join(', ')})`;
}
