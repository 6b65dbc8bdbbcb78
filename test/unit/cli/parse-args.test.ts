import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GetoptError } from '../../../src/cli/getopt.js';
import { LONG_OPTIONS, parseCommandLine, SHORT_OPTIONS } from '../../../src/cli/parse-args.js';
import { UsageError } from '../../../src/errors.js';
import { defaultBackupOptions, type BackupOptions } from '../../../src/options/backup-options.js';
import { FIXED_SETTINGS, outcome } from './stderr.js';

interface ErrorCase {
  name: string;
  argv: string[];
  stderr: string[];
  pg15: string;
}

const errorCases = (
  JSON.parse(readFileSync(new URL('../../../fixtures/cli/argv-errors.json', import.meta.url), 'utf8')) as {
    cases: ErrorCase[];
  }
).cases;

function options(argv: string[]): BackupOptions {
  const r = parseCommandLine(argv, FIXED_SETTINGS);
  if (r.kind !== 'run') throw new Error(`expected a run, got ${r.kind}`);
  return r.options;
}

describe('parseCommandLine: errors (fixtures/cli/argv-errors.json)', () => {
  it.each(errorCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(outcome(c.argv).stderr).toEqual(c.stderr);
  });

  it('getopt complaints are GetoptErrors with the hint, conversions are plain UsageErrors without', () => {
    expect(() => parseCommandLine(['-k'], FIXED_SETTINGS)).toThrow(GetoptError);
    try {
      parseCommandLine(['-Fx'], FIXED_SETTINGS);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      expect(err).not.toBeInstanceOf(GetoptError);
      expect((err as UsageError).hint).toBeUndefined();
      expect((err as UsageError).code).toBe('PGBB_USAGE');
    }
  });
});

describe('parseCommandLine: --help and --version only as the first argument', () => {
  it.each([
    [['--help'], 'help'],
    [['-?'], 'help'],
    [['--help', '-k'], 'help'],
    [['--version'], 'version'],
    [['-V'], 'version'],
    [['-V', 'junk', '--foo'], 'version'],
  ])('%j -> %s', (argv, kind) => {
    expect(parseCommandLine(argv, FIXED_SETTINGS).kind).toBe(kind);
  });
});

describe('parseCommandLine: accepted command lines', () => {
  it('-D alone gives pg defaults', () => {
    expect(options(['-D', 'x'])).toEqual({ ...defaultBackupOptions(), pgdata: 'x' });
    expect(options(['-D', 'x']).walMethod).toBe('stream');
  });

  it('clusters and attached values: -Ft -Xf -cfast -vP -Dbk', () => {
    const o = options(['-Ft', '-Xf', '-cfast', '-vP', '-Dbk']);
    expect(o).toMatchObject({ format: 'tar', formatSpecified: true, walMethod: 'fetch', checkpoint: 'fast', verbose: 1, progress: true, pgdata: 'bk' });
  });

  it('separate values, and "-" as a value', () => {
    expect(options(['-D', '-', '-F', 't', '-X', 'none'])).toMatchObject({ pgdata: '-', format: 'tar', walMethod: 'none' });
    expect(options(['-D', '-']).pgdata).toBe('-'); // plain: a directory named "-"
    expect(options(['-Xnone', '-D', 'x']).walMethod).toBe('none');
    expect(options(['-Xs', '-D', 'x']).walMethod).toBe('stream');
    expect(options(['-Xn', '-D', 'x']).walMethod).toBe('none');
  });

  it('--opt=value, --opt value and unique prefixes', () => {
    expect(options(['--pgdata=x', '--format', 'tar', '--wal-method=fetch'])).toMatchObject({ pgdata: 'x', format: 'tar', walMethod: 'fetch' });
    expect(options(['--pgd=x', '--form=p', '--wal-m=n', '--verb', '--prog']).pgdata).toBe('x');
    expect(options(['--pgd=x', '--form=p', '--wal-m=n', '--verb', '--prog'])).toMatchObject({ format: 'plain', walMethod: 'none', verbose: 1, progress: true });
    expect(options(['--pgdata=', '-Xn']).pgdata).toBe('');
    expect(options(['--pgdata', '--', '-Xn']).pgdata).toBe('--');
  });

  it('-- ends the options (and nothing may follow)', () => {
    expect(options(['-D', 'x', '--']).pgdata).toBe('x');
  });

  it('the last of a single-valued option wins', () => {
    const o = options(['-D', 'a', '-D', 'b', '-r', '100', '-r', '2M', '-S', 's1', '-S', 's2', '-l', 'one', '--label=two', '-Fp', '-Ft']);
    expect(o).toMatchObject({ pgdata: 'b', maxRate: 2048, slot: 's2', label: 'two', format: 'tar' });
    expect(options(['-D', 'x', '-c', 'fast', '-c', 'SPREAD']).checkpoint).toBe('spread');
    expect(options(['-D', 'x', '-w', '-W']).passwordMode).toBe('always');
    expect(options(['-D', 'x', '-W', '-w']).passwordMode).toBe('never');
    expect(options(['-D', 'x', '-Ft', '-z', '-Z', 'none']).compression).toEqual({ location: 'unspecified', algorithm: 'none', detail: undefined });
    expect(options(['-D', 'x', '-Ft', '-Z', 'server-lz4', '-z']).compression).toEqual({ location: 'unspecified', algorithm: 'gzip', detail: undefined });
    expect(options(['-t', 'server:/a', '-t', 'client', '-D', 'x']).target).toBeUndefined();
  });

  it('-T accumulates, with \\= escapes and canonical paths', () => {
    const o = options(['-D', 'x', '-T/a=/b', '--tablespace-mapping', '/t/bl\\=spc2/=/n//m/./k/../z']);
    expect(o.tablespaceMappings).toEqual([
      { oldDir: '/a', newDir: '/b' },
      { oldDir: '/t/bl=spc2', newDir: '/n/m/z' },
    ]);
  });

  it('-v counts', () => {
    expect(options(['-D', 'x', '-vvv']).verbose).toBe(3);
    expect(options(['-v', '-D', 'x', '--verbose', '-vP']).verbose).toBe(3);
  });

  it('-z and -Z forms', () => {
    const z = (...a: string[]) => options(['-D', 'x', '-Ft', ...a]).compression;
    expect(z('-z')).toEqual({ location: 'unspecified', algorithm: 'gzip', detail: undefined });
    expect(z('-Z9')).toEqual({ location: 'unspecified', algorithm: 'gzip', detail: '9' });
    expect(z('--compress=gzip:level=5')).toEqual({ location: 'unspecified', algorithm: 'gzip', detail: 'level=5' });
    expect(z('-Z', '0')).toEqual({ location: 'unspecified', algorithm: 'none', detail: undefined });
    expect(z('-Z', 'server-5')).toEqual({ location: 'server', algorithm: 'gzip', detail: '5' });
    expect(z('-Z', 'server-turkey:sandwich')).toEqual({ location: 'server', algorithm: 'turkey', detail: 'sandwich' });
    expect(z('-Z', 'client-gzip')).toEqual({ location: 'client', algorithm: 'gzip', detail: undefined });
    expect(options(['-D', 'x', '-Z', '0']).compression.algorithm).toBe('none'); // plain is fine without compression
  });

  it('backup targets', () => {
    expect(options(['-t', 'server:/tmp/x', '-X', 'none']).target).toEqual({ name: 'server', detail: '/tmp/x' });
    expect(options(['--target=blackhole', '-Xf']).target).toEqual({ name: 'blackhole', detail: undefined });
    expect(options(['-t', 'blackhole', '-Xn', '-Z', 'gzip:thunk']).compression.algorithm).toBe('gzip'); // server judges
    expect(options(['-t', 'client', '-D', 'x']).target).toBeUndefined();
  });

  it('every other option', () => {
    const o = options([
      '-D', 'x', '-C', '-S', 'slot0', '-R', '-n', '-N', '-i', '/old/backup_manifest', '-d', 'host=h', '-h', 'h2',
      '-p', '5433', '-U', 'bob', '-s', '0', '--waldir=/w/./x/', '--no-verify-checksums', '--no-estimate-size',
      '--manifest-checksums=sha256', '--manifest-force-encode', '--sync-method=syncfs', '-l', 'lbl', '-r', '32',
    ]);
    expect(o).toEqual({
      ...defaultBackupOptions(),
      pgdata: 'x', createSlot: true, slot: 'slot0', writeRecoveryConf: true, noClean: true, noSync: true,
      incrementalManifest: '/old/backup_manifest', connInfo: 'host=h', host: 'h2', port: '5433', user: 'bob',
      statusInterval: 0, walDir: '/w/x', verifyChecksums: false, estimateSize: false, manifestChecksums: 'sha256',
      manifestForceEncode: true, syncMethod: 'syncfs', label: 'lbl', maxRate: 32,
    });
    expect(options(['-D', 'x', '--no-slot', '--no-manifest']).noSlot).toBe(true);
    expect(options(['-D', 'x', '--no-slot', '--no-manifest']).manifest).toBe(false);
  });

  it('-s like option_parse_int: blanks around, empty is 0', () => {
    expect(options(['-D', 'x', '-s', ' 5 ']).statusInterval).toBe(5);
    expect(options(['-D', 'x', '-s', '']).statusInterval).toBe(0);
    expect(options(['-D', 'x', '-s', '+2147483']).statusInterval).toBe(2147483);
  });

  it('syncfs only where the build has it', () => {
    expect(outcome(['-D', 'x', '--sync-method=syncfs'], { ...FIXED_SETTINGS, syncfsSupported: false }).stderr).toEqual([
      'pg_basebackup: error: this build does not support sync method "syncfs"',
    ]);
  });

  it('POSIXLY_CORRECT stops at the first non-option', () => {
    const posix = { ...FIXED_SETTINGS, posixlyCorrect: true };
    expect(outcome(['-D', 'x', 'foo', '-k'], posix).stderr).toEqual([
      'pg_basebackup: error: too many command-line arguments (first is "foo")',
      'pg_basebackup: hint: Try "pg_basebackup --help" for more information.',
    ]);
    expect(outcome(['-D', 'x', 'foo', '-k']).stderr?.[0]).toBe("pg_basebackup: invalid option -- 'k'");
  });

  it('the progname setting is what getopt prints', () => {
    expect(outcome(['-k'], { ...FIXED_SETTINGS, progname: '/usr/bin/pg_basebackup' }).stderr?.[0]).toBe(
      "/usr/bin/pg_basebackup: invalid option -- 'k'",
    );
  });
});

describe('option tables', () => {
  it('pg 17 short options', () => {
    expect(SHORT_OPTIONS).toBe('c:Cd:D:F:h:i:l:nNp:Pr:Rs:S:t:T:U:vwWX:zZ:');
  });

  it('every short option with a value has a long option with a value, and vice versa', () => {
    for (const o of LONG_OPTIONS) {
      if (typeof o.val !== 'string' || o.val === '?' || o.val === 'V') continue;
      const at = SHORT_OPTIONS.indexOf(o.val);
      expect(at, o.name).toBeGreaterThanOrEqual(0);
      expect(SHORT_OPTIONS[at + 1] === ':', o.name).toBe(o.hasArg === 'required');
    }
    expect(LONG_OPTIONS.map((o) => o.name)).toContain('sync-method');
    expect(new Set(LONG_OPTIONS.map((o) => o.val)).size).toBe(LONG_OPTIONS.length);
  });
});

describe('--status-file / --no-status-file (beyond pg)', () => {
  const run = (argv: string[]) => parseCommandLine(argv, { compressionSupport: { gzip: true, lz4: true, zstd: true } });
  it('are parsed; pg abbreviations keep their meaning', () => {
    const r = run(['-D', '/b/x', '--status-file=/run/x.json']);
    expect(r.kind === 'run' && r.options.statusFile).toBe('/run/x.json');
    const n = run(['-D', '/b/x', '--no-status-file']);
    expect(n.kind === 'run' && n.options.noStatusFile).toBe(true);
    // --status is --status-interval for pg, and stays so.
    const s = run(['-D', '/b/x', '--status=5']);
    expect(s.kind === 'run' && s.options.statusInterval).toBe(5);
    const f = run(['-D', '/b/x', '--status-f=/run/y.json']);
    expect(f.kind === 'run' && f.options.statusFile).toBe('/run/y.json');
  });
  it('are refused together, empty, or inside a target directory', () => {
    expect(() => run(['-D', '/b/x', '--status-file=/r.json', '--no-status-file'])).toThrow('--status-file and --no-status-file are incompatible options');
    expect(() => run(['-D', '/b/x', '--status-file='])).toThrow('status file name must not be empty');
    expect(() => run(['-D', '/b/x', '--status-file=/b/x/s.json'])).toThrow('status file "/b/x/s.json" must not be inside a target directory');
    expect(() => run(['-D', '/b/x', '-T', '/o=/ts', '--status-file=/ts/s.json'])).toThrow(/must not be inside a target directory/);
    expect(run(['-Ft', '-D', '-', '--status-file=/b/x.json']).kind).toBe('run');
  });
});
