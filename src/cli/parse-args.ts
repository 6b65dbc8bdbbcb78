/**
 * pg_basebackup's command line (PostgreSQL 17's main()): --help/-? and --version/-V as the first argument
 * only, then getopt_long with pg's option tables, each value converted as it is met, then the
 * combination checks.
 */
import { UsageError } from '../errors.js';
import { defaultBackupOptions, type BackupOptions } from '../options/backup-options.js';
import { canonicalizePath } from '../options/canonicalize-path.js';
import { runtimeCompressionSupport } from '../compression/compression.js';
import { GZIP_COMPRESSION, parseCompressOptions, type CompressionSupport } from '../options/compression-spec.js';
import { parseMaxRate } from '../options/max-rate.js';
import {
  parseBackupTarget,
  parseCheckpoint,
  parseFormat,
  parseStatusInterval,
  parseSyncMethod,
  parseWalMethod,
} from '../options/option-values.js';
import { parseTablespaceMapping } from '../options/tablespace-mapping.js';
import { validateOptions } from '../options/validate.js';
import { GetoptError, GetoptLong, type LongOption } from './getopt.js';

/** pg_basebackup 17's short options. */
export const SHORT_OPTIONS = 'c:Cd:D:F:h:i:l:nNp:Pr:Rs:S:t:T:U:vwWX:zZ:';

/** Values of the long-only options (pg's numbers). */
const enum LongOnly {
  WalDir = 1,
  NoSlot = 2,
  NoVerifyChecksums = 3,
  NoEstimateSize = 4,
  NoManifest = 5,
  ManifestForceEncode = 6,
  ManifestChecksums = 7,
  SyncMethod = 8,
  /** Beyond pg. */
  RecoveryConfWithoutPassword = 101,
  JsonEvents = 102,
  StatusFile = 103,
  NoStatusFile = 104,
  Verify = 105,
}

/** The connection options every command of the suite takes, in pg_basebackup's order. */
export const CONNECTION_LONG_OPTIONS: readonly LongOption[] = [
  { name: 'dbname', hasArg: 'required', val: 'd' },
  { name: 'host', hasArg: 'required', val: 'h' },
  { name: 'port', hasArg: 'required', val: 'p' },
  { name: 'username', hasArg: 'required', val: 'U' },
  { name: 'no-password', hasArg: 'none', val: 'w' },
  { name: 'password', hasArg: 'none', val: 'W' },
];

/** pg_basebackup 17's long options, in pg's order (glibc lists ambiguous candidates in this order). */
export const LONG_OPTIONS: readonly LongOption[] = [
  { name: 'help', hasArg: 'none', val: '?' },
  { name: 'version', hasArg: 'none', val: 'V' },
  { name: 'pgdata', hasArg: 'required', val: 'D' },
  { name: 'format', hasArg: 'required', val: 'F' },
  { name: 'incremental', hasArg: 'required', val: 'i' },
  { name: 'checkpoint', hasArg: 'required', val: 'c' },
  { name: 'create-slot', hasArg: 'none', val: 'C' },
  { name: 'max-rate', hasArg: 'required', val: 'r' },
  { name: 'write-recovery-conf', hasArg: 'none', val: 'R' },
  { name: 'slot', hasArg: 'required', val: 'S' },
  { name: 'target', hasArg: 'required', val: 't' },
  { name: 'tablespace-mapping', hasArg: 'required', val: 'T' },
  { name: 'wal-method', hasArg: 'required', val: 'X' },
  { name: 'gzip', hasArg: 'none', val: 'z' },
  { name: 'compress', hasArg: 'required', val: 'Z' },
  { name: 'label', hasArg: 'required', val: 'l' },
  { name: 'no-clean', hasArg: 'none', val: 'n' },
  { name: 'no-sync', hasArg: 'none', val: 'N' },
  ...CONNECTION_LONG_OPTIONS,
  { name: 'status-interval', hasArg: 'required', val: 's' },
  { name: 'verbose', hasArg: 'none', val: 'v' },
  { name: 'progress', hasArg: 'none', val: 'P' },
  { name: 'waldir', hasArg: 'required', val: LongOnly.WalDir },
  { name: 'no-slot', hasArg: 'none', val: LongOnly.NoSlot },
  { name: 'no-verify-checksums', hasArg: 'none', val: LongOnly.NoVerifyChecksums },
  { name: 'no-estimate-size', hasArg: 'none', val: LongOnly.NoEstimateSize },
  { name: 'no-manifest', hasArg: 'none', val: LongOnly.NoManifest },
  { name: 'manifest-force-encode', hasArg: 'none', val: LongOnly.ManifestForceEncode },
  { name: 'manifest-checksums', hasArg: 'required', val: LongOnly.ManifestChecksums },
  { name: 'sync-method', hasArg: 'required', val: LongOnly.SyncMethod },
  // Beyond pg: abbreviations of pg's own options keep their meaning (getopt.ts, `extension`).
  { name: 'recovery-conf-without-password', hasArg: 'none', val: LongOnly.RecoveryConfWithoutPassword, extension: true },
  { name: 'json-events', hasArg: 'required', val: LongOnly.JsonEvents, extension: true },
  { name: 'status-file', hasArg: 'required', val: LongOnly.StatusFile, extension: true },
  { name: 'no-status-file', hasArg: 'none', val: LongOnly.NoStatusFile, extension: true },
  { name: 'verify', hasArg: 'none', val: LongOnly.Verify, extension: true },
];

export type ParsedCommandLine = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: BackupOptions };

export interface ParseSettings {
  /** argv[0] for getopt's diagnostics; default "pg_basebackup". */
  progname?: string;
  /** Default: the POSIXLY_CORRECT environment variable is set. */
  posixlyCorrect?: boolean;
  /** Whether --sync-method=syncfs is available (pg: HAVE_SYNCFS); default: on Linux. */
  syncfsSupported?: boolean;
  /** Which client-side compression algorithms this build has; default: those whose library loads. */
  compressionSupport?: CompressionSupport;
}

/**
 * Parse the arguments after the program name.  Throws GetoptError for what getopt itself rejects (print
 * it verbatim, see getopt.ts) and UsageError (with or without the "Try --help" hint) for the rest.
 */
export function parseCommandLine(argv: readonly string[], settings: ParseSettings = {}): ParsedCommandLine {
  const first = argv[0];
  if (first === '--help' || first === '-?') return { kind: 'help' };
  if (first === '--version' || first === '-V') return { kind: 'version' };

  const getopt = new GetoptLong(argv, SHORT_OPTIONS, LONG_OPTIONS, {
    progname: settings.progname ?? 'pg_basebackup',
    posixlyCorrect: settings.posixlyCorrect ?? process.env['POSIXLY_CORRECT'] !== undefined,
  });
  const syncfsSupported = settings.syncfsSupported ?? process.platform === 'linux';
  const o = defaultBackupOptions();
  for (let item = getopt.next(); item !== undefined; item = getopt.next()) {
    applyOption(o, item.val, item.arg ?? '', syncfsSupported);
  }

  const stray = getopt.operands[0];
  if (stray !== undefined) throw new UsageError(`too many command-line arguments (first is "${stray}")`, { hint: true });

  validateOptions(o, settings.compressionSupport ?? runtimeCompressionSupport);
  return { kind: 'run', options: o };
}

/** One turn of pg's `switch (c)`: store or convert the value (every handled option takes one or none). */
function applyOption(o: BackupOptions, val: string | number, arg: string, syncfsSupported: boolean): void {
  switch (val) {
    case 'C': o.createSlot = true; break;
    case 'D': o.pgdata = arg; break;
    case 'F':
      o.format = parseFormat(arg);
      o.formatSpecified = true;
      break;
    case 'i': o.incrementalManifest = arg; break;
    case 'r': o.maxRate = parseMaxRate(arg); break;
    case 'R': o.writeRecoveryConf = true; break;
    case 'S': o.slot = arg; break;
    case LongOnly.NoSlot: o.noSlot = true; break;
    case 't': o.target = parseBackupTarget(arg); break;
    case 'T': o.tablespaceMappings.push(parseTablespaceMapping(arg)); break;
    case 'X': o.walMethod = parseWalMethod(arg); break;
    case LongOnly.WalDir: o.walDir = canonicalizePath(arg); break;
    case 'l': o.label = arg; break;
    case 'n': o.noClean = true; break;
    case 'N': o.noSync = true; break;
    case 'z': o.compression = { ...GZIP_COMPRESSION }; break;
    case 'Z': o.compression = parseCompressOptions(arg); break;
    case 'c': o.checkpoint = parseCheckpoint(arg); break;
    case 'd': o.connInfo = arg; break;
    case 'h': o.host = arg; break;
    case 'p': o.port = arg; break;
    case 'U': o.user = arg; break;
    case 'w': o.passwordMode = 'never'; break;
    case 'W': o.passwordMode = 'always'; break;
    case 's': o.statusInterval = parseStatusInterval(arg); break;
    case 'v': o.verbose++; break;
    case 'P': o.progress = true; break;
    case LongOnly.NoVerifyChecksums: o.verifyChecksums = false; break;
    case LongOnly.NoEstimateSize: o.estimateSize = false; break;
    case LongOnly.NoManifest: o.manifest = false; break;
    case LongOnly.ManifestForceEncode: o.manifestForceEncode = true; break;
    case LongOnly.ManifestChecksums: o.manifestChecksums = arg; break;
    case LongOnly.SyncMethod: o.syncMethod = parseSyncMethod(arg, syncfsSupported); break;
    case LongOnly.RecoveryConfWithoutPassword: o.recoveryConfWithoutPassword = true; break;
    case LongOnly.JsonEvents: o.jsonEvents = arg; break;
    case LongOnly.StatusFile: o.statusFile = arg; break;
    case LongOnly.NoStatusFile: o.noStatusFile = true; break;
    case LongOnly.Verify: o.verify = true; break;
    default:
      // --help or --version after other arguments: getopt said nothing, pg prints only its hint.
      throw new GetoptError('');
  }
}
