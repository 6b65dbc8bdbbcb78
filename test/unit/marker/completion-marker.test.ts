import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CompletionMarker, statusFileFor } from '../../../src/backup/completion-marker.js';
import { readMarkerState } from '../../../src/backup/marker-state.js';
import type { CompletionRecord, RunIdentity } from '../../../src/events/types.js';

const root = mkdtempSync(join(tmpdir(), 'pgbb-marker-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
function freshDir(): string {
  const d = join(root, `d${++seq}`);
  mkdirSync(d);
  return realpathSync(d);
}

function identity(target: string): RunIdentity {
  return {
    format_version: 1,
    run_id: '0f8fad5b-d9cb-469f-a165-70867728950e',
    tool: 'pg-basebackup',
    tool_version: '0.1.0',
    pid: process.pid,
    host: hostname(),
    target,
    status_file: statusFileFor(target),
    label: 'nightly',
    server: { host: '/run/postgresql', port: 5432, version: '16.4' },
    started_at: '2024-05-01T10:00:00.000Z',
  };
}

function complete(target: string): CompletionRecord {
  return {
    status: 'complete',
    ...identity(target),
    finished_at: '2024-05-01T10:05:00.000Z',
    start_lsn: '0/2000028',
    end_lsn: '0/2000100',
    timeline: 1,
    bytes: 123456,
    format: 'plain',
    wal_method: 'stream',
    wal: { start: '000000010000000000000002', end: '000000010000000000000002' },
    tablespaces: [{ oid: '16385', location: '/srv/ts', mapped_location: '/backup/ts' }],
    system_identifier: '7350000000000000000',
    manifest: true,
  };
}

const read = (d: string) => JSON.parse(readFileSync(statusFileFor(d), 'utf8')) as Record<string, unknown>;

describe('statusFileFor', () => {
  it('is the sibling named after the target, from the path alone', () => {
    expect(statusFileFor('/backups/b1')).toBe('/backups/b1.pg-basebackup-status.json');
    expect(statusFileFor('/backups/b1/')).toBe('/backups/b1.pg-basebackup-status.json');
    expect(statusFileFor('/backups/./x/../b1')).toBe('/backups/b1.pg-basebackup-status.json');
  });
});

describe('CompletionMarker', () => {
  it('in progress, then complete beside the directory: status first, no temporary file left, nothing inside, mode as given', () => {
    const d = freshDir();
    const m = CompletionMarker.begin(statusFileFor(d), identity(d), { fileMode: 0o640, noSync: false });
    expect(read(d)).toEqual({ status: 'in progress', ...identity(d) });
    expect(Object.keys(read(d))[0]).toBe('status');
    expect(statSync(m.path).mode & 0o777).toBe(0o640);
    expect(readMarkerState(d).state).toBe('in progress');
    m.complete(complete(d));
    expect(read(d)).toEqual(complete(d));
    expect(readdirSync(d)).toEqual([]);
    expect(existsSync(`${statusFileFor(d)}.tmp`)).toBe(false);
    expect(readMarkerState(d)).toMatchObject({ state: 'complete', directory: d, directory_exists: true, status_file: statusFileFor(d) });
  });

  it('failed: the identity, the end time and the error; still read after the directory is gone', () => {
    const d = freshDir();
    const m = CompletionMarker.begin(statusFileFor(d), identity(d), { fileMode: 0o600, noSync: true });
    m.fail(identity(d), { code: 'PGBB_SERVER', message: 'backup failed: ERROR:  boom', sqlstate: 'XX000', detail: [], hint: null }, '2024-05-01T10:01:00.000Z');
    expect(read(d)).toEqual({
      status: 'failed',
      ...identity(d),
      finished_at: '2024-05-01T10:01:00.000Z',
      error: { code: 'PGBB_SERVER', message: 'backup failed: ERROR:  boom', sqlstate: 'XX000' },
    });
    expect(readMarkerState(d).state).toBe('failed');
    rmSync(d, { recursive: true });
    expect(readMarkerState(d)).toMatchObject({ state: 'failed', directory: d, directory_exists: false });
  });

  it('replaces atomically: a stale temporary file is replaced and renamed away', () => {
    const d = freshDir();
    writeFileSync(`${statusFileFor(d)}.tmp`, 'garbage that is longer than nothing at all');
    CompletionMarker.begin(statusFileFor(d), identity(d), { fileMode: 0o600, noSync: false });
    expect(existsSync(`${statusFileFor(d)}.tmp`)).toBe(false);
    expect(read(d)['status']).toBe('in progress');
  });

  it('never writes through a symlink planted at the temporary or the final name', () => {
    const d = freshDir();
    const victim = join(root, `victim${seq}`);
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, `${statusFileFor(d)}.tmp`);
    symlinkSync(victim, statusFileFor(d));
    CompletionMarker.begin(statusFileFor(d), identity(d), { fileMode: 0o600, noSync: false });
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(lstatSync(statusFileFor(d)).isFile()).toBe(true);
    expect(read(d)['status']).toBe('in progress');
  });
});

describe('readMarkerState', () => {
  const write = (d: string, content: unknown) => writeFileSync(statusFileFor(d), typeof content === 'string' ? content : JSON.stringify(content));

  it('missing: no marker, or no directory', () => {
    const d = freshDir();
    expect(readMarkerState(d)).toEqual({ state: 'missing', directory: d, status_file: statusFileFor(d), directory_exists: true, reason: `no ${statusFileFor(d)}` });
    expect(readMarkerState(join(root, 'nope'))).toMatchObject({ state: 'missing', directory_exists: false });
  });

  it('foreign: not JSON, another tool, no run_id or format_version, unknown version or status, another target', () => {
    const d = freshDir();
    const cases: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      ['[1,2]', /not a JSON object/],
      [{ ...complete(d), tool: 'other' }, /not written by pg-basebackup/],
      [{ ...complete(d), run_id: '' }, /no run_id/],
      [{ ...complete(d), format_version: undefined }, /no format_version/],
      [{ ...complete(d), format_version: 2 }, /unknown format_version 2/],
      [{ ...complete(d), status: 'weird' }, /unknown status "weird"/],
      [complete('/elsewhere/pgdata'), /written for "\/elsewhere\/pgdata"/],
    ];
    for (const [content, reason] of cases) {
      write(d, content);
      const s = readMarkerState(d);
      expect(s.state, String(reason)).toBe('foreign');
      expect(s.reason).toMatch(reason);
    }
  });

  it('a marker copied beside another directory is foreign there', () => {
    const a = freshDir();
    CompletionMarker.begin(statusFileFor(a), identity(a), { fileMode: 0o600, noSync: true }).complete(complete(a));
    const b = freshDir();
    writeFileSync(statusFileFor(b), readFileSync(statusFileFor(a)));
    expect(readMarkerState(a).state).toBe('complete');
    expect(readMarkerState(b).state).toBe('foreign');
  });

  it('a marker file given itself (--status-file): its own run; a copy of it elsewhere is foreign', () => {
    const d = freshDir();
    const file = join(root, `explicit${seq}.json`);
    const id = { ...identity(d), status_file: file };
    CompletionMarker.begin(file, id, { fileMode: 0o600, noSync: true }).complete({ ...complete(d), status_file: file });
    expect(readMarkerState(file)).toMatchObject({ state: 'complete', directory: d, directory_exists: true, status_file: file });
    expect(readMarkerState(statusFileFor(d)).state).toBe('missing');
    const copy = join(root, `copy${seq}.json`);
    writeFileSync(copy, readFileSync(file));
    expect(readMarkerState(copy)).toMatchObject({ state: 'foreign' });
    // A marker of -D - names no directory.
    const std = join(root, `stdout${seq}.json`);
    CompletionMarker.begin(std, { ...identity(d), target: null, status_file: std }, { fileMode: 0o600, noSync: true });
    expect(readMarkerState(std)).toMatchObject({ state: 'in progress', directory: null, directory_exists: null });
  });

  it('in progress: whether the writing process still runs (this host only)', () => {
    const d = freshDir();
    write(d, { status: 'in progress', ...identity(d) });
    expect(readMarkerState(d, () => true).process_running).toBe(true);
    expect(readMarkerState(d, () => false).process_running).toBe(false);
    expect(readMarkerState(d).process_running).toBe(true); // this very process
    write(d, { status: 'in progress', ...identity(d), host: 'some-other-host' });
    expect(readMarkerState(d, () => true).process_running).toBeNull();
  });
});
