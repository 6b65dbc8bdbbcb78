/**
 * pg_combinebackup's command line (PostgreSQL 18's main()): --help/-? and --version/-V as the first
 * argument only, then getopt_long with pg's tables ("dknNo:T:" and the long options), each value
 * checked when it is met, then the checks after the loop.  Parsed once into CombineOptions.
 */
import { GetoptError, GetoptLong, type LongOption } from '../cli/getopt.js';
import { UsageError } from '../errors.js';
import { parseChecksumAlgorithm, type ChecksumAlgorithm } from '../manifest/checksum.js';
import type { SyncMethod } from '../options/backup-options.js';
import { parseSyncMethod } from '../options/option-values.js';
import { parseTablespaceMapping, type TablespaceMapping } from '../options/tablespace-mapping.js';
import { COMBINE_PROGNAME, usageWithHint } from './report.js';

export type CopyMethod = 'copy' | 'clone' | 'copy-file-range' | 'link';

export interface CombineOptions {
  debug: boolean;
  dryRun: boolean;
  noSync: boolean;
  output: string;
  /** In the order given; a later mapping of the same OLDDIR wins, as in pg. */
  tablespaceMappings: TablespaceMapping[];
  manifestChecksums: ChecksumAlgorithm;
  noManifest: boolean;
  syncMethod: SyncMethod;
  copyMethod: CopyMethod;
  /** The backups, oldest (the full one) first. */
  inputs: string[];
  /** Beyond pg: no completion marker beside the output directory. */
  noStatusFile: boolean;
  /** Beyond pg: -P/--progress. */
  progress: boolean;
}

/** pg 18's short options, plus P (beyond pg). */
export const SHORT_OPTIONS = 'dknNo:PT:';

const enum LongOnly {
  ManifestChecksums = 1,
  NoManifest = 2,
  SyncMethod = 3,
  Clone = 4,
  Copy = 5,
  CopyFileRange = 6,
  /** Beyond pg. */
  NoStatusFile = 101,
  Progress = 102,
}

export const LONG_OPTIONS: readonly LongOption[] = [
  { name: 'debug', hasArg: 'none', val: 'd' },
  { name: 'dry-run', hasArg: 'none', val: 'n' },
  { name: 'no-sync', hasArg: 'none', val: 'N' },
  { name: 'output', hasArg: 'required', val: 'o' },
  { name: 'tablespace-mapping', hasArg: 'required', val: 'T' },
  { name: 'link', hasArg: 'none', val: 'k' },
  { name: 'manifest-checksums', hasArg: 'required', val: LongOnly.ManifestChecksums },
  { name: 'no-manifest', hasArg: 'none', val: LongOnly.NoManifest },
  { name: 'sync-method', hasArg: 'required', val: LongOnly.SyncMethod },
  { name: 'clone', hasArg: 'none', val: LongOnly.Clone },
  { name: 'copy', hasArg: 'none', val: LongOnly.Copy },
  { name: 'copy-file-range', hasArg: 'none', val: LongOnly.CopyFileRange },
  { name: 'no-status-file', hasArg: 'none', val: LongOnly.NoStatusFile, extension: true },
  { name: 'progress', hasArg: 'none', val: 'P', extension: true },
];

export type ParsedCombineCommandLine = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: CombineOptions };

export interface CombineParseSettings {
  posixlyCorrect?: boolean;
  /** Default: Linux. */
  syncfsSupported?: boolean;
  /** Which copy methods this platform offers (pg: FICLONE/copyfile, copy_file_range); default by platform. */
  cloneSupported?: boolean;
  copyFileRangeSupported?: boolean;
}

/**
 * Parse the arguments after the program name.  Throws GetoptError (print verbatim), UsageError with
 * the "Try --help" hint, or UsageError without a hint (pg_fatal's texts) for the rest.
 */
export function parseCombineCommandLine(argv: readonly string[], settings: CombineParseSettings = {}): ParsedCombineCommandLine {
  const first = argv[0];
  if (first === '--help' || first === '-?') return { kind: 'help' };
  if (first === '--version' || first === '-V') return { kind: 'version' };

  const getopt = new GetoptLong(argv, SHORT_OPTIONS, LONG_OPTIONS, {
    progname: COMBINE_PROGNAME,
    posixlyCorrect: settings.posixlyCorrect ?? process.env['POSIXLY_CORRECT'] !== undefined,
  });
  const syncfsSupported = settings.syncfsSupported ?? process.platform === 'linux';
  let output: string | undefined;
  const o: Omit<CombineOptions, 'output' | 'inputs'> = {
    debug: false,
    dryRun: false,
    noSync: false,
    tablespaceMappings: [],
    manifestChecksums: 'CRC32C',
    noManifest: false,
    syncMethod: 'fsync',
    copyMethod: 'copy',
    noStatusFile: false,
    progress: false,
  };
  for (let item = getopt.next(); item !== undefined; item = getopt.next()) {
    const arg = item.arg ?? '';
    switch (item.val) {
      case 'd': o.debug = true; break;
      case 'k': o.copyMethod = 'link'; break;
      case 'n': o.dryRun = true; break;
      case 'N': o.noSync = true; break;
      case 'P': o.progress = true; break;
      case 'o': output = arg; break;
      case 'T': o.tablespaceMappings.push(parseTablespaceMapping(arg, { localOldDir: true })); break;
      case LongOnly.ManifestChecksums: {
        const alg = parseChecksumAlgorithm(arg);
        if (alg === undefined) throw new UsageError(`unrecognized checksum algorithm: "${arg}"`);
        o.manifestChecksums = alg;
        break;
      }
      case LongOnly.NoManifest: o.noManifest = true; break;
      case LongOnly.SyncMethod: o.syncMethod = parseSyncMethod(arg, syncfsSupported); break;
      case LongOnly.Clone: o.copyMethod = 'clone'; break;
      case LongOnly.Copy: o.copyMethod = 'copy'; break;
      case LongOnly.CopyFileRange: o.copyMethod = 'copy-file-range'; break;
      case LongOnly.NoStatusFile: o.noStatusFile = true; break;
      default:
        // --help or --version after other arguments: getopt said nothing, pg prints only its hint.
        throw new GetoptError('');
    }
  }
  const inputs = [...getopt.operands];
  if (inputs.length === 0) throw usageWithHint('no input directories specified');
  if (output === undefined) throw new UsageError('no output directory specified');
  if (o.noManifest) o.manifestChecksums = 'NONE';
  const platform = process.platform;
  if (o.copyMethod === 'clone' && !(settings.cloneSupported ?? (platform === 'linux' || platform === 'darwin'))) {
    throw new UsageError('file cloning not supported on this platform');
  }
  if (o.copyMethod === 'copy-file-range' && !(settings.copyFileRangeSupported ?? (platform === 'linux' || platform === 'freebsd'))) {
    throw new UsageError('copy_file_range not supported on this platform');
  }
  return { kind: 'run', options: { ...o, output, inputs } };
}
