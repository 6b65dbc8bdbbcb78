import { describe, expect, it } from 'vitest';
import { parseCatalogCommandLine } from '../../../src/catalog/options.js';
import { formatCatalogError } from '../../../src/catalog/report.js';

const parse = (...a: string[]) => parseCatalogCommandLine(a, {});
const err = (...a: string[]) => {
  try {
    parse(...a);
  } catch (e) {
    return formatCatalogError(e);
  }
  throw new Error('no error');
};

describe('pg-basebackup-catalog command line', () => {
  it('one typed object per subcommand', () => {
    expect(parse('backup', '-B', '/c', '--incremental', '-h', '/sock', '-p', '5433', '-U', 'rep', '-c', 'spread', '-r', '1M')).toEqual({
      kind: 'run',
      options: { command: 'backup', catalog: '/c', mode: 'incremental', host: '/sock', port: '5433', user: 'rep', passwordMode: 'auto', checkpoint: 'spread', maxRate: '1M', progress: false, verbose: false },
    });
    expect(parse('show', '-B', '/c', '--json')).toEqual({ kind: 'run', options: { command: 'show', catalog: '/c', json: true } });
    expect(parse('restore', '--backup-path=/c', '20261204T101500Z', '-D', '/t', '-T', '/a=/b', '-R')).toEqual({
      kind: 'run',
      options: { command: 'restore', catalog: '/c', id: '20261204T101500Z', target: '/t', tablespaceMappings: [{ oldDir: '/a', newDir: '/b' }], writeRecoveryConf: true },
    });
    expect(parse('delete', '-B', '/c', '--expired', '--keep-full=2', '-n')).toEqual({
      kind: 'run',
      options: { command: 'delete', catalog: '/c', cascade: false, expired: true, dryRun: true, keepFull: 2 },
    });
    expect(parse('init', '-B', '/c', '-d', 'host=x', '--keep-days=28', '--expire-after-backup').kind).toBe('run');
    expect(parse('--help')).toEqual({ kind: 'help' });
    expect(parse('show', '--help')).toEqual({ kind: 'help' });
  });

  it('errors in pg\'s style with this program\'s hint', () => {
    const hint = 'pg-basebackup-catalog: hint: Try "pg-basebackup-catalog --help" for more information.\n';
    expect(err()).toBe(`pg-basebackup-catalog: error: no subcommand specified\n${hint}`);
    expect(err('frobnicate')).toBe(`pg-basebackup-catalog: error: unrecognized subcommand "frobnicate"\n${hint}`);
    expect(err('show')).toBe(`pg-basebackup-catalog: error: no catalog directory specified (-B)\n${hint}`);
    expect(err('show', '-B', '/c', '--bogus')).toBe(`pg-basebackup-catalog: unrecognized option '--bogus'\n${hint}`);
    expect(err('backup', '-B', '/c', '--full', '--incremental')).toContain('--full and --incremental cannot be used together');
    expect(parse('validate', '-B', '/c')).toEqual({ kind: 'run', options: { command: 'validate', catalog: '/c', all: false } });
    expect(err('validate', '-B', '/c', 'X', '--all')).toContain('a backup ID and --all cannot be used together');
    expect(err('delete', '-B', '/c', '--expired', '--keep-full=0')).toContain('invalid value "0" for option --keep-full: must be a positive integer');
    expect(err('delete', '-B', '/c', 'X', '--keep-full=1')).toContain('--keep-full and --keep-days only apply with --expired');
    expect(err('backup', '-B', '/c', '-X', 'none')).toContain('-X none is not allowed');
    expect(err('show', '-B', '/c', 'a', 'b')).toContain('too many command-line arguments (first is "b")');
    expect(err('restore', '-B', '/c', 'X')).toContain('no target directory specified (-D)');
  });
});
