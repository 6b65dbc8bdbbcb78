import { describe, expect, it } from 'vitest';
import { helpText, versionText } from '../../../src/cli/help.js';
import { LONG_OPTIONS } from '../../../src/cli/parse-args.js';

/** The option column of pg_basebackup 17's usage(), in order. */
const PG17_OPTIONS = [
  '-D, --pgdata=DIRECTORY', '-F, --format=p|t', '-i, --incremental=OLDMANIFEST', '-r, --max-rate=RATE',
  '-R, --write-recovery-conf', '-t, --target=TARGET[:DETAIL]', '-T, --tablespace-mapping=OLDDIR=NEWDIR',
  '--waldir=WALDIR', '-X, --wal-method=none|fetch|stream', '-z, --gzip',
  '-Z, --compress=[{client|server}-]METHOD[:DETAIL]', '-Z, --compress=none',
  '-c, --checkpoint=fast|spread', '-C, --create-slot', '-l, --label=LABEL', '-n, --no-clean', '-N, --no-sync',
  '-P, --progress', '-S, --slot=SLOTNAME', '-v, --verbose', '-V, --version',
  '--manifest-checksums=SHA{224,256,384,512}|CRC32C|NONE', '--manifest-force-encode', '--no-estimate-size',
  '--no-manifest', '--no-slot', '--no-verify-checksums', '--sync-method=METHOD', '-?, --help',
  '-d, --dbname=CONNSTR', '-h, --host=HOSTNAME', '-p, --port=PORT', '-s, --status-interval=INTERVAL',
  '-U, --username=NAME', '-w, --no-password', '-W, --password',
];

/** This project's own options, listed among pg's. */
const BEYOND_PG = ['--recovery-conf-without-password', '--json-events=DEST', '--status-file=PATH', '--no-status-file', '--verify'];

describe('helpText', () => {
  const text = helpText();
  const lines = text.split('\n');

  it('has pg\'s head and sections', () => {
    expect(lines.slice(0, 5)).toEqual([
      'pg_basebackup takes a base backup of a running PostgreSQL server.', '', 'Usage:', '  pg_basebackup [OPTION]...', '',
    ]);
    const titles = lines.filter((l) => /^[A-Z].*:$/.test(l));
    expect(titles).toEqual(['Usage:', 'Options controlling the output:', 'General options:', 'Connection options:']);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('lists pg 17\'s options in pg\'s order, descriptions at column 26', () => {
    const found: string[] = [];
    lines.forEach((l, i) => {
      if (!/^ {2}(-|\s{4}--)/.test(l)) return;
      if (l.length <= 25 || l[24] !== ' ') {
        // a long option: its description is on the next line, at column 26
        found.push(l.trim());
        expect(lines[i + 1], l).toMatch(/^ {25}\S/);
      } else {
        found.push(l.slice(0, 25).trim());
        expect(l[24], l).toBe(' ');
        expect(l[25], l).toMatch(/\S/);
      }
    });
    expect(found.filter((o) => !BEYOND_PG.includes(o))).toEqual(PG17_OPTIONS);
    for (const o of BEYOND_PG) expect(found).toContain(o);
  });

  it('mentions every long option of the table', () => {
    for (const o of LONG_OPTIONS) expect(text, o.name).toContain(`--${o.name}`);
  });
});

describe('versionText', () => {
  it('names this implementation', () => {
    expect(versionText('1.2.3')).toBe('pg_basebackup (pg-basebackup) 1.2.3');
  });
});
