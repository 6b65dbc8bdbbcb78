import { describe, expect, it } from 'vitest';
import { GetoptError } from '../../../src/cli/getopt.js';
import { shouldIgnoreRelpath } from '../../../src/verify/ignore-list.js';
import { DEFAULT_IGNORE, parseVerifyCommandLine } from '../../../src/verify/options.js';
import { classifyArchiveName } from '../../../src/verify/tar.js';

const run = (argv: string[]) => {
  const p = parseVerifyCommandLine(argv, {});
  if (p.kind !== 'run') throw new Error(p.kind);
  return p.options;
};

describe('pg_verifybackup command line (pg 18: "eF:i:m:nPqsw:")', () => {
  it('defaults and every option, values canonicalized', () => {
    expect(run(['b//'])).toMatchObject({ backupDirectory: 'b', ignore: DEFAULT_IGNORE, format: undefined, noParseWal: false });
    const o = run(['-e', '-Ft', '-i', 'a/b/', '--ignore=c/./d', '-m', 'm//x', '-n', '-P', '-s', '--wal-directory', 'w/', 'dir']);
    expect(o).toMatchObject({
      exitOnError: true, format: 'tar', manifestPath: 'm/x', noParseWal: true, progress: true, skipChecksums: true, walDirectory: 'w', backupDirectory: 'dir',
    });
    expect(o.ignore).toEqual([...DEFAULT_IGNORE, 'a/b', 'c/d']);
    expect(run(['--format=plain', 'd']).format).toBe('plain');
    expect(run(['--no-p', 'd']).noParseWal).toBe(true); // unique abbreviation
  });

  it('--help/-? and --version/-V only as the first argument', () => {
    expect(parseVerifyCommandLine(['--help', 'x'], {}).kind).toBe('help');
    expect(parseVerifyCommandLine(['-V'], {}).kind).toBe('version');
    expect(() => parseVerifyCommandLine(['d', '--help'], {})).toThrow(GetoptError);
    expect(() => parseVerifyCommandLine(['d', '-V'], {})).toThrow("pg_verifybackup: invalid option -- 'V'");
  });

  it("pg's usage errors, in pg's order", () => {
    expect(() => run([])).toThrow('no backup directory specified');
    expect(() => run(['a', 'b'])).toThrow('too many command-line arguments (first is "b")');
    expect(() => run(['-F', 'x', 'a'])).toThrow('invalid backup format "x", must be "plain" or "tar"');
    expect(() => run(['-P', '-q', 'a'])).toThrow('cannot specify both -P/--progress and -q/--quiet');
    expect(() => run(['-F', 'x'])).toThrow('invalid backup format'); // checked as met, before the operands
  });
});

describe('should_ignore_relpath', () => {
  it('an entry covers itself and what is below it, not longer names', () => {
    expect(shouldIgnoreRelpath(['aa/bb'], 'aa/bb')).toBe(true);
    expect(shouldIgnoreRelpath(['aa/bb'], 'aa/bb/cc')).toBe(true);
    expect(shouldIgnoreRelpath(['aa/bb'], 'aa/bbb')).toBe(false);
    expect(shouldIgnoreRelpath(['aa/bb'], 'aa')).toBe(false);
    expect(shouldIgnoreRelpath(DEFAULT_IGNORE, 'pg_wal/000000010000000000000002')).toBe(true);
  });
});

describe('tar-format archive names (precheck_tar_backup_file)', () => {
  it('base, pg_wal and tablespace OIDs with pg 18 suffixes', () => {
    expect(classifyArchiveName('base.tar')).toMatchObject({ kind: 'base', compression: 'none' });
    expect(classifyArchiveName('base.tgz')).toMatchObject({ kind: 'base', compression: 'gzip' });
    expect(classifyArchiveName('pg_wal.tar.zst')).toMatchObject({ kind: 'pg_wal', compression: 'zstd' });
    expect(classifyArchiveName('16384.tar.lz4')).toMatchObject({ kind: 'tablespace', tablespaceOid: 16384, compression: 'lz4' });
    for (const bad of ['base.tar.bz2', 'basement.tar', '0.tar', '4294967296.tar', '-5.tar', 'x.tar', 'notes.txt', 'base.tar.gz.tmp']) {
      expect(classifyArchiveName(bad), bad).toBeUndefined();
    }
  });
});
