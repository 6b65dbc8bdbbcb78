/**
 * Conversion of single option values, as pg_basebackup's main() and src/fe_utils/option_utils.c do them,
 * with pg's error texts (printed without hint).
 */
import { UsageError } from '../errors.js';
import type { BackupFormat, BackupTarget, SyncMethod, WalMethod } from './backup-options.js';
import { isCSpace, strtoint } from './c-strto.js';

/** -F: p, plain, t, tar (case-sensitive). */
export function parseFormat(arg: string): BackupFormat {
  if (arg === 'p' || arg === 'plain') return 'plain';
  if (arg === 't' || arg === 'tar') return 'tar';
  throw new UsageError(`invalid output format "${arg}", must be "plain" or "tar"`);
}

/** -X: n, none, f, fetch, s, stream (case-sensitive). */
export function parseWalMethod(arg: string): WalMethod {
  if (arg === 'n' || arg === 'none') return 'none';
  if (arg === 'f' || arg === 'fetch') return 'fetch';
  if (arg === 's' || arg === 'stream') return 'stream';
  throw new UsageError(`invalid wal-method option "${arg}", must be "fetch", "stream", or "none"`);
}

/** -c: fast or spread, ASCII case-insensitive (pg_strcasecmp). */
export function parseCheckpoint(arg: string): 'fast' | 'spread' {
  const lower = arg.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
  if (lower === 'fast') return 'fast';
  if (lower === 'spread') return 'spread';
  throw new UsageError(`invalid checkpoint argument "${arg}", must be "fast" or "spread"`);
}

/**
 * option_parse_int(): strtoint with trailing blanks allowed; no digits at all reads as 0 (so "" is 0, as
 * in pg).  Throws `invalid value "%s" for option %s` or `%s must be in range %d..%d`.
 */
export function optionParseInt(arg: string, optname: string, min: number, max: number): number {
  const r = strtoint(arg);
  let end = r.end;
  while (end < arg.length && isCSpace(arg[end])) end++;
  if (end < arg.length) throw new UsageError(`invalid value "${arg}" for option ${optname}`);
  if (r.erange || r.value < min || r.value > max) throw new UsageError(`${optname} must be in range ${min}..${max}`);
  return r.value;
}

/** INT_MAX / 1000: the largest -s that fits in milliseconds. */
export const MAX_STATUS_INTERVAL = Math.trunc(2147483647 / 1000);

/** -s: seconds, 0..2147483. */
export function parseStatusInterval(arg: string): number {
  return optionParseInt(arg, '-s/--status-interval', 0, MAX_STATUS_INTERVAL);
}

/** --sync-method (parse_sync_method); syncfs exists only where the platform has syncfs(2). */
export function parseSyncMethod(arg: string, syncfsSupported: boolean): SyncMethod {
  if (arg === 'fsync') return 'fsync';
  if (arg === 'syncfs') {
    if (!syncfsSupported) throw new UsageError('this build does not support sync method "syncfs"');
    return 'syncfs';
  }
  throw new UsageError(`unrecognized sync method: ${arg}`);
}

/** -t: "client" (exactly) means none; otherwise split at the first ':' into TARGET and TARGET_DETAIL. */
export function parseBackupTarget(arg: string): BackupTarget | undefined {
  if (arg === 'client') return undefined;
  const colon = arg.indexOf(':');
  return colon < 0 ? { name: arg, detail: undefined } : { name: arg.slice(0, colon), detail: arg.slice(colon + 1) };
}
