/**
 * Runs the installed pg_basebackup 15 (Debian's, when present) with the same argument lists as ours and
 * compares: the exact stderr for command lines that fail before connecting, and acceptance (pg goes on
 * to connect, to a socket that does not exist) for valid ones.  Texts that changed after 15 are skipped by
 * name (their "pg15" field in the fixture).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { outcome } from './stderr.js';

const PG15 = ['/usr/lib/postgresql/15/bin/pg_basebackup', '/usr/bin/pg_basebackup'].find((p) => existsSync(p));

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

/** Never reach a server: every run gets a connection string naming a socket directory that does not exist. */
const NOWHERE = ['-d', 'host=/nonexistent'];

function runPg15(argv: string[]): { status: number | null; lines: string[] } {
  const r = spawnSync(PG15 as string, argv, {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    timeout: 20_000,
  });
  // getopt prints argv[0], the binary's full path; pg's own lines say "pg_basebackup:".
  const lines = r.stderr.split('\n').filter((l) => l !== '').map((l) => l.replace(/^\S*pg_basebackup: /, 'pg_basebackup: '));
  return { status: r.status, lines };
}

const accepted: string[][] = [
  ['-D', 'x'],
  ['-Ft', '-Xf', '-cfast', '-vP', '-Dbk'],
  ['-D', '-', '-Ft', '-Xnone'],
  ['--pgd=x', '--form=p', '--wal-m=n', '--verb', '--prog'],
  ['-D', 'x', '--'],
  ['-D', 'x', '-r', '0x1p5'],
  ['-D', 'x', '-r', ' 100 k '],
  ['-D', 'x', '-r', '1024M'],
  ['-D', 'x', '-s', ''],
  ['-D', 'x', '-s', ' 5 '],
  ['-D', 'x', '-T/a==/b'],
  ['-D', 'x', '-TC:\\a=/b'],
  ['-D', 'x', '-T/t/bl\\=spc2/=/n'],
  ['-D', 'x', '-Ft', '-Z', ' 5'],
  ['-D', 'x', '-Ft', '-Z', 'gzip: 5'],
  ['-D', 'x', '-Ft', '-Z', 'gzip:level=-1'],
  ['-D', 'x', '-Ft', '-Z', 'server-lz4:turkey'],
  ['-D', 'x', '-Ft', '-Z', 'lz4'],
  ['-D', 'x', '-Ft', '-Z', 'client-lz4:12'],
  ['-D', 'x', '-Ft', '-Z', 'client-zstd:level=5,workers=2'],
  ['-D', 'x', '-Ft', '-Z', 'zstd:22'],
  ['-D', 'x', '-Z', 'server-5'],
  ['-D', 'x', '-Z', 'server-zstd:level=9'],
  ['-D', '-', '-Ft', '-X', 'fetch', '-Z', 'lz4'],
  ['-t', 'blackhole', '-X', 'fetch', '-Z', 'zstd:level=3'],
  ['-t', 'server:/tmp/x', '-X', 'none', '-r', '1M'],
  ['-t', 'blackhole', '-Xn', '-Z', 'gzip:thunk'],
  ['-t', 'server:/tmp/x', '-X', 'fetch'],
  ['-D', 'x', '-c', 'FAST', '-C', '-S', 's', '-R', '-n', '-N', '-W', '-w', '--no-verify-checksums'],
  ['-D', 'x', '--waldir=/w/../x', '--manifest-checksums=bogus', '--manifest-force-encode', '--no-est'],
];

describe.skipIf(PG15 === undefined)('same behaviour as the installed pg_basebackup 15', () => {
  const compared = errorCases.filter((c) => c.pg15 === 'same');

  it.each(compared.map((c) => [c.name, c] as const))('error: %s', (_name, c) => {
    const argv = [...NOWHERE, ...c.argv];
    const pg = runPg15(argv);
    expect(pg.status).toBe(1);
    expect(outcome(argv).stderr).toEqual(pg.lines);
  });

  it.each(accepted.map((a) => [a.join(' '), a] as const))('accepted: %s', (_name, a) => {
    const argv = [...NOWHERE, ...a];
    const pg = runPg15(argv);
    expect(pg.lines[0]).toMatch(/^pg_basebackup: error: connection to server on socket "\/nonexistent\//);
    const ours = outcome(argv);
    expect(ours.stderr).toBeUndefined();
    expect(ours.result?.kind).toBe('run');
  });
});
