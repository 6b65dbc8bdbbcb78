import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statusFileFor } from '../../../src/backup/completion-marker.js';
import { statusMain } from '../../../src/cli/status-command.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'pgbb-status-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function run(argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = statusMain(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function dirWith(name: string, marker: Record<string, unknown> | undefined): string {
  const d = join(root, name);
  mkdirSync(d);
  if (marker !== undefined) writeFileSync(statusFileFor(d), JSON.stringify(marker));
  return d;
}

const head = (d: string) => ({ format_version: 1, run_id: 'r-1', tool: 'pg-basebackup', pid: 1, host: hostname(), target: d });

describe('pg-basebackup-status', () => {
  it('exit 0 only when complete, 1 for in progress, failed, foreign and missing; one JSON line', () => {
    const cases: [string, Record<string, unknown> | undefined, string, number][] = [
      ['complete', { status: 'complete' }, 'complete', 0],
      ['running', { status: 'in progress' }, 'in progress', 1],
      ['failed', { status: 'failed', error: { code: 'PGBB_ABORTED' } }, 'failed', 1],
      ['foreign', { status: 'complete', target: '/some/where/else' }, 'foreign', 1],
      ['missing', undefined, 'missing', 1],
    ];
    for (const [name, extra, state, code] of cases) {
      const d = join(root, name);
      dirWith(name, extra === undefined ? undefined : { ...head(d), ...extra });
      const r = run([d]);
      expect(r.code, name).toBe(code);
      expect(r.err).toBe('');
      expect(r.out.endsWith('\n')).toBe(true);
      expect(r.out.trim().split('\n')).toHaveLength(1);
      const parsed = JSON.parse(r.out) as { state: string; directory: string };
      expect(parsed.state, name).toBe(state);
      expect(parsed.directory).toBe(d);
    }
  });

  it('a failed marker whose directory was removed: exit 1, directory_exists false; the marker file itself is accepted too', () => {
    const d = join(root, 'cleaned');
    dirWith('cleaned', { ...head(d), status: 'failed', status_file: statusFileFor(d), error: { code: 'PGBB_SERVER' } });
    rmSync(d, { recursive: true });
    const r = run([d]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ state: 'failed', directory: d, directory_exists: false, status_file: statusFileFor(d) });
    expect(JSON.parse(run([statusFileFor(d)]).out)).toMatchObject({ state: 'failed', directory: d, directory_exists: false });
  });

  it('usage errors exit 2 with a hint; --help and --version exit 0', () => {
    for (const argv of [[], ['-x'], ['a', 'b']]) {
      const r = run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^pg-basebackup-status: error: .*\npg-basebackup-status: hint: Try "pg-basebackup-status --help" for more information\.\n$/);
    }
    expect(run(['--help'])).toMatchObject({ code: 0, err: '' });
    expect(run(['--help']).out).toContain('Usage:');
    expect(run(['--version']).out).toMatch(/^pg-basebackup-status \(pg-basebackup\) \d+\.\d+\.\d+\n$/);
  });

  it('-- lets a directory start with a dash', () => {
    const d = join(root, '-odd');
    dirWith('-odd', { ...head(d), status: 'complete' });
    const prev = process.cwd();
    process.chdir(root);
    try {
      expect(run(['-odd']).code).toBe(2);
      const r = run(['--', '-odd']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ state: 'complete', directory: d });
    } finally {
      process.chdir(prev);
    }
  });
});
