/**
 * The command line: `pg-basebackup-catalog SUBCOMMAND [OPTION]... [ARG]`, parsed once into one typed
 * object per subcommand (getopt_long, pg's style of messages).
 */
import { GetoptLong, type LongOption } from '../cli/getopt.js';
import { UsageError } from '../errors.js';
import { parseCheckpoint, parseWalMethod } from '../options/option-values.js';
import { parseMaxRate } from '../options/max-rate.js';
import { parseTablespaceMapping } from '../options/tablespace-mapping.js';
import { CATALOG_PROGNAME } from './catalog-error.js';
import { CONNECTION_LONG_OPTIONS } from '../cli/parse-args.js';

export const CATALOG_HELP_HINT = `Try "${CATALOG_PROGNAME} --help" for more information.`;

export interface ConnectionArgs {
  dbname?: string;
  host?: string;
  port?: string;
  user?: string;
  passwordMode: 'auto' | 'never' | 'always';
}

export interface InitOptions extends ConnectionArgs {
  command: 'init';
  catalog: string;
  keepFull?: number;
  keepDays?: number;
  expireAfterBackup: boolean;
  checkpoint?: 'fast' | 'spread';
  walMethod?: 'fetch' | 'stream';
}

export interface BackupCommandOptions extends ConnectionArgs {
  command: 'backup';
  catalog: string;
  mode: 'full' | 'incremental';
  checkpoint?: 'fast' | 'spread';
  walMethod?: 'fetch' | 'stream';
  maxRate?: string;
  label?: string;
  progress: boolean;
  verbose: boolean;
  manifestChecksums?: string;
}

export interface ShowOptions {
  command: 'show';
  catalog: string;
  id?: string;
  json: boolean;
}

export interface ValidateOptions {
  command: 'validate';
  catalog: string;
  id?: string;
  all: boolean;
}

export interface RestoreOptions {
  command: 'restore';
  catalog: string;
  id: string;
  target: string;
  tablespaceMappings: { oldDir: string; newDir: string }[];
  writeRecoveryConf: boolean;
}

export interface DeleteOptions {
  command: 'delete';
  catalog: string;
  id?: string;
  cascade: boolean;
  expired: boolean;
  keepFull?: number;
  keepDays?: number;
  dryRun: boolean;
}

export type CatalogOptions = InitOptions | BackupCommandOptions | ShowOptions | ValidateOptions | RestoreOptions | DeleteOptions;
export type ParsedCommandLine = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: CatalogOptions };

const SUBCOMMANDS = ['init', 'backup', 'show', 'validate', 'restore', 'delete'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const enum L {
  Full = 1000,
  Incremental,
  Json,
  All,
  Cascade,
  Expired,
  KeepFull,
  KeepDays,
  DryRun,
  ExpireAfterBackup,
  ManifestChecksums,
}

const CONN = CONNECTION_LONG_OPTIONS;
const B: LongOption = { name: 'backup-path', hasArg: 'required', val: 'B' };
const KEEP: LongOption[] = [
  { name: 'keep-full', hasArg: 'required', val: L.KeepFull },
  { name: 'keep-days', hasArg: 'required', val: L.KeepDays },
];

const TABLE: Record<Subcommand, { short: string; long: LongOption[] }> = {
  init: {
    short: 'B:d:h:p:U:wWc:X:',
    long: [B, ...CONN, ...KEEP, { name: 'expire-after-backup', hasArg: 'none', val: L.ExpireAfterBackup },
      { name: 'checkpoint', hasArg: 'required', val: 'c' }, { name: 'wal-method', hasArg: 'required', val: 'X' }],
  },
  backup: {
    short: 'B:d:h:p:U:wWc:X:r:l:Pv',
    long: [B, ...CONN, { name: 'full', hasArg: 'none', val: L.Full }, { name: 'incremental', hasArg: 'none', val: L.Incremental },
      { name: 'checkpoint', hasArg: 'required', val: 'c' }, { name: 'wal-method', hasArg: 'required', val: 'X' },
      { name: 'max-rate', hasArg: 'required', val: 'r' }, { name: 'label', hasArg: 'required', val: 'l' },
      { name: 'progress', hasArg: 'none', val: 'P' }, { name: 'verbose', hasArg: 'none', val: 'v' },
      { name: 'manifest-checksums', hasArg: 'required', val: L.ManifestChecksums }],
  },
  show: { short: 'B:', long: [B, { name: 'json', hasArg: 'none', val: L.Json }] },
  validate: { short: 'B:', long: [B, { name: 'all', hasArg: 'none', val: L.All }] },
  restore: {
    short: 'B:D:T:R',
    long: [B, { name: 'pgdata', hasArg: 'required', val: 'D' }, { name: 'tablespace-mapping', hasArg: 'required', val: 'T' },
      { name: 'write-recovery-conf', hasArg: 'none', val: 'R' }],
  },
  delete: {
    short: 'B:n',
    long: [B, ...KEEP, { name: 'cascade', hasArg: 'none', val: L.Cascade }, { name: 'expired', hasArg: 'none', val: L.Expired },
      { name: 'dry-run', hasArg: 'none', val: 'n' }],
  },
};

function usage(message: string): UsageError {
  return new UsageError(message, { hint: CATALOG_HELP_HINT });
}

function positiveInt(name: string, arg: string): number {
  if (!/^\d+$/.test(arg) || Number(arg) < 1 || Number(arg) > 100_000) throw usage(`invalid value "${arg}" for option --${name}: must be a positive integer`);
  return Number(arg);
}

function atMostOne(operands: readonly string[]): string | undefined {
  if (operands.length > 1) throw usage(`too many command-line arguments (first is "${operands[1]}")`);
  return operands[0];
}

function none(operands: readonly string[]): void {
  if (operands.length > 0) throw usage(`too many command-line arguments (first is "${operands[0]}")`);
}

export function parseCatalogCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedCommandLine {
  const first = argv[0];
  if (first === undefined) throw usage('no subcommand specified');
  if (first === '--help' || first === '-?' || first === 'help') return { kind: 'help' };
  if (first === '--version' || first === '-V') return { kind: 'version' };
  if (!(SUBCOMMANDS as readonly string[]).includes(first)) throw usage(`unrecognized subcommand "${first}"`);
  const sub = first as Subcommand;
  const rest = argv.slice(1);
  if (rest[0] === '--help' || rest[0] === '-?') return { kind: 'help' };
  const t = TABLE[sub];
  const g = new GetoptLong(rest, t.short, t.long, { progname: CATALOG_PROGNAME, posixlyCorrect: env['POSIXLY_CORRECT'] !== undefined });
  const v: Record<string | number, string[]> = {};
  for (let item = g.next(); item !== undefined; item = g.next()) (v[item.val] ??= []).push(item.arg ?? '');
  const last = (k: string | number) => v[k]?.[v[k].length - 1];
  const has = (k: string | number) => v[k] !== undefined;
  const catalog = last('B');
  if (catalog === undefined || catalog === '') throw usage('no catalog directory specified (-B)');
  const operands = g.operands;
  const conn = (): ConnectionArgs => {
    const c: ConnectionArgs = { passwordMode: has('W') ? 'always' : has('w') ? 'never' : 'auto' };
    if (has('d')) c.dbname = last('d');
    if (has('h')) c.host = last('h');
    if (has('p')) c.port = last('p');
    if (has('U')) c.user = last('U');
    return c;
  };
  const walMethod = () => {
    const x = last('X');
    if (x === undefined) return undefined;
    const m = parseWalMethod(x);
    if (m === 'none') throw usage('-X none is not allowed: every backup in a catalog holds the WAL it needs');
    return m;
  };
  const checkpoint = () => (has('c') ? parseCheckpoint(last('c') as string) : undefined);
  const keep = () => ({
    ...(has(L.KeepFull) ? { keepFull: positiveInt('keep-full', last(L.KeepFull) as string) } : {}),
    ...(has(L.KeepDays) ? { keepDays: positiveInt('keep-days', last(L.KeepDays) as string) } : {}),
  });

  switch (sub) {
    case 'init': {
      none(operands);
      const o: InitOptions = { command: 'init', catalog, ...conn(), ...keep(), expireAfterBackup: has(L.ExpireAfterBackup) };
      const c = checkpoint();
      if (c) o.checkpoint = c;
      const x = walMethod();
      if (x) o.walMethod = x;
      return { kind: 'run', options: o };
    }
    case 'backup': {
      none(operands);
      if (has(L.Full) && has(L.Incremental)) throw usage('--full and --incremental cannot be used together');
      const o: BackupCommandOptions = {
        command: 'backup', catalog, ...conn(), mode: has(L.Incremental) ? 'incremental' : 'full',
        progress: has('P'), verbose: has('v'),
      };
      const c = checkpoint();
      if (c) o.checkpoint = c;
      const x = walMethod();
      if (x) o.walMethod = x;
      if (has('r')) {
        parseMaxRate(last('r') as string);
        o.maxRate = last('r');
      }
      if (has('l')) o.label = last('l');
      if (has(L.ManifestChecksums)) o.manifestChecksums = last(L.ManifestChecksums);
      return { kind: 'run', options: o };
    }
    case 'show': {
      const id = atMostOne(operands);
      return { kind: 'run', options: { command: 'show', catalog, json: has(L.Json), ...(id !== undefined ? { id } : {}) } };
    }
    case 'validate': {
      const id = atMostOne(operands);
      if (id !== undefined && has(L.All)) throw usage('a backup ID and --all cannot be used together');
      return { kind: 'run', options: { command: 'validate', catalog, all: has(L.All), ...(id !== undefined ? { id } : {}) } };
    }
    case 'restore': {
      const id = atMostOne(operands);
      if (id === undefined) throw usage('no backup specified');
      const target = last('D');
      if (target === undefined || target === '') throw usage('no target directory specified (-D)');
      const tablespaceMappings = (v['T'] ?? []).map((a) => {
        const m = parseTablespaceMapping(a);
        return { oldDir: m.oldDir, newDir: m.newDir };
      });
      return { kind: 'run', options: { command: 'restore', catalog, id, target, tablespaceMappings, writeRecoveryConf: has('R') } };
    }
    case 'delete': {
      const id = atMostOne(operands);
      const o: DeleteOptions = { command: 'delete', catalog, cascade: has(L.Cascade), expired: has(L.Expired), dryRun: has('n'), ...keep() };
      if (id !== undefined && o.expired) throw usage('a backup ID and --expired cannot be used together');
      if (id === undefined && !o.expired) throw usage('no backup specified (an ID or --expired)');
      if (id !== undefined && (o.keepFull !== undefined || o.keepDays !== undefined)) throw usage('--keep-full and --keep-days only apply with --expired');
      if (id !== undefined) o.id = id;
      return { kind: 'run', options: o };
    }
  }
}
