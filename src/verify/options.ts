/**
 * pg_verifybackup 18's command line: --help/-? and --version/-V as the first argument only, then
 * getopt_long with pg's tables ("eF:i:m:nPqsw:"), each value converted as it is met, then the checks
 * in pg's order.  The result is one typed VerifyOptions.
 */
import { GetoptLong, type LongOption } from '../cli/getopt.js';
import { UsageError } from '../errors.js';
import { canonicalizePath } from '../options/canonicalize-path.js';

export const VERIFY_PROGNAME = 'pg_verifybackup';
export const VERIFY_HELP_HINT = `Try "${VERIFY_PROGNAME} --help" for more information.`;

export type BackupFormat = 'plain' | 'tar';

export interface VerifyOptions {
  backupDirectory: string;
  exitOnError: boolean;
  /** -F; undefined: decided by the presence of PG_VERSION. */
  format: BackupFormat | undefined;
  /** The ignore list: pg's five defaults, then each -i (canonicalized). */
  ignore: string[];
  manifestPath: string | undefined;
  noParseWal: boolean;
  progress: boolean;
  quiet: boolean;
  skipChecksums: boolean;
  walDirectory: string | undefined;
}

export type ParsedVerifyCommand = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: VerifyOptions };

export const SHORT_OPTIONS = 'eF:i:m:nPqsw:';

export const LONG_OPTIONS: readonly LongOption[] = [
  { name: 'exit-on-error', hasArg: 'none', val: 'e' },
  { name: 'ignore', hasArg: 'required', val: 'i' },
  { name: 'manifest-path', hasArg: 'required', val: 'm' },
  { name: 'format', hasArg: 'required', val: 'F' },
  { name: 'no-parse-wal', hasArg: 'none', val: 'n' },
  { name: 'progress', hasArg: 'none', val: 'P' },
  { name: 'quiet', hasArg: 'none', val: 'q' },
  { name: 'skip-checksums', hasArg: 'none', val: 's' },
  { name: 'wal-directory', hasArg: 'required', val: 'w' },
];

/** Always ignored: the manifest itself, WAL (checked separately), and files a backup may legitimately change. */
export const DEFAULT_IGNORE = ['backup_manifest', 'pg_wal', 'postgresql.auto.conf', 'recovery.signal', 'standby.signal'];

function usage(message: string): UsageError {
  return new UsageError(message, { hint: VERIFY_HELP_HINT });
}

export function parseVerifyCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedVerifyCommand {
  const first = argv[0];
  if (first === '--help' || first === '-?') return { kind: 'help' };
  if (first === '--version' || first === '-V') return { kind: 'version' };
  const o: VerifyOptions = {
    backupDirectory: '',
    exitOnError: false,
    format: undefined,
    ignore: [...DEFAULT_IGNORE],
    manifestPath: undefined,
    noParseWal: false,
    progress: false,
    quiet: false,
    skipChecksums: false,
    walDirectory: undefined,
  };
  const g = new GetoptLong(argv, SHORT_OPTIONS, LONG_OPTIONS, {
    progname: VERIFY_PROGNAME,
    posixlyCorrect: env['POSIXLY_CORRECT'] !== undefined,
  });
  for (let item = g.next(); item !== undefined; item = g.next()) {
    const arg = item.arg as string;
    switch (item.val) {
      case 'e':
        o.exitOnError = true;
        break;
      case 'i':
        o.ignore.push(canonicalizePath(arg));
        break;
      case 'm':
        o.manifestPath = canonicalizePath(arg);
        break;
      case 'F':
        if (arg === 'p' || arg === 'plain') o.format = 'plain';
        else if (arg === 't' || arg === 'tar') o.format = 'tar';
        else throw new UsageError(`invalid backup format "${arg}", must be "plain" or "tar"`);
        break;
      case 'n':
        o.noParseWal = true;
        break;
      case 'P':
        o.progress = true;
        break;
      case 'q':
        o.quiet = true;
        break;
      case 's':
        o.skipChecksums = true;
        break;
      case 'w':
        o.walDirectory = canonicalizePath(arg);
        break;
      default:
        // --help or --version not in first place: getopt said nothing, pg prints only its hint.
        throw new UsageError('', { hint: VERIFY_HELP_HINT });
    }
  }
  const operands = g.operands;
  if (operands.length === 0) throw usage('no backup directory specified');
  o.backupDirectory = canonicalizePath(operands[0] as string);
  if (operands.length > 1) throw usage(`too many command-line arguments (first is "${operands[1]}")`);
  if (o.progress && o.quiet) throw new UsageError('cannot specify both -P/--progress and -q/--quiet');
  return { kind: 'run', options: o };
}

const HELP_ENTRIES: readonly (readonly [string, string])[] = [
  ['-e, --exit-on-error', 'stop at the first error'],
  ['-F, --format=p|t', 'backup format (plain, tar)'],
  ['-i, --ignore=RELATIVE_PATH', 'do not check this path'],
  ['-m, --manifest-path=PATH', 'read the manifest from PATH'],
  ['-n, --no-parse-wal', 'do not check the WAL'],
  ['-P, --progress', 'report progress'],
  ['-q, --quiet', 'print nothing but errors'],
  ['-s, --skip-checksums', 'do not verify file checksums'],
  ['-w, --wal-directory=PATH', 'read WAL from PATH'],
  ['-V, --version', 'print the version, then exit'],
  ['-?, --help', 'print this help, then exit'],
];

/** The text `pg_verifybackup --help` writes to stdout (pg 18's layout, our wording). */
export function verifyHelpText(): string {
  let out = `${VERIFY_PROGNAME} checks a backup against its backup manifest.\n\n`;
  out += `Usage:\n  ${VERIFY_PROGNAME} [OPTION]... BACKUPDIR\n\nOptions:\n`;
  for (const [opt, text] of HELP_ENTRIES) out += `  ${opt.padEnd(26)}  ${text}\n`;
  out += '\nWAL is checked by a built-in reader (no pg_waldump needed), also inside pg_wal.tar.\n';
  out += '\nReport bugs to the pg-basebackup issue tracker.\n';
  return out;
}

export function verifyVersionText(version: string): string {
  return `${VERIFY_PROGNAME} (pg-basebackup) ${version}`;
}
