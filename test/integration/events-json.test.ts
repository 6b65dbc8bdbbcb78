/**
 * --json-events against a real server (17): newline-delimited JSON that parses line by line, phases
 * in order (one `streaming` per tablespace), progress at most 4 times a second, a `result` equal to
 * the completion marker, `error` events with code and SQLSTATE; the fd:N and stderr destinations;
 * and -P as a live bar on a terminal (pg's line format otherwise).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runBasebackup, runTool, socketArgs, startTablespaceSource, type TablespaceSource } from '../support/backup-helpers.js';
import { type PgCluster } from '../support/pg-cluster.js';
import { markerOf, phases, readEvents, readMarker, type Json } from './events-support.js';

describe('JSON events (PostgreSQL 17)', () => {
  let src: TablespaceSource;
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let tsDir: string;
  let seq = 0;
  const fresh = (what: string) => join(work, `${what}-${++seq}`);

  beforeAll(async () => {
    src = await startTablespaceSource('pgbb-events17-', { major: 17, conf: { autovacuum: 'off' } });
    ({ c, work, env, tsDir } = src);
    await c.query(`CREATE TABLE t_main AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 30000) g;
      CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 15000) g; CHECKPOINT`);
  });

  afterAll(async () => {
    await src?.destroy();
  });

  const withoutEnvelope = (e: Json) => {
    const { event: _e, time: _t, ...rest } = e;
    return rest;
  };

  it('a file: every line parses, phases in order, throttled progress, result = marker', async () => {
    const d = fresh('plain');
    const file = fresh('events.ndjson');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', '-r', '6M', '-T', `${tsDir}=${fresh('ts')}`, `--json-events=${file}`], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // nothing on stderr without -v/-P
    const events = readEvents(file);
    for (const e of events) {
      expect(['phase', 'progress', 'result'], JSON.stringify(e)).toContain(e['event']);
      expect(Date.parse(String(e['time']))).not.toBeNaN();
    }
    expect(phases(events)).toEqual(['connecting', 'checkpoint', 'streaming', 'streaming', 'wal', 'syncing', 'done']);
    const streaming = events.filter((e) => e['phase'] === 'streaming');
    expect(streaming.map((e) => [e['tablespace'], e['tablespaces'], e['message']])).toEqual([
      [1, 2, 'streaming'],
      [2, 2, 'streaming'],
    ]);
    expect(events.find((e) => e['phase'] === 'checkpoint')?.['message']).toBe('waiting for checkpoint');

    const progress = events.filter((e) => e['event'] === 'progress');
    expect(progress.length).toBeGreaterThan(8); // a throttled backup of several seconds
    const times = progress.map((e) => Date.parse(String(e['time'])));
    for (let i = 1; i < progress.length - 1; i++) expect(times[i]! - times[i - 1]!, `progress ${i}`).toBeGreaterThanOrEqual(240);
    const done = progress.map((e) => Number(e['bytes_done']));
    for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThanOrEqual(done[i - 1]!);
    expect(progress.some((e) => Number(e['rate']) > 1_000_000 && typeof e['eta'] === 'number')).toBe(true);
    expect(progress.every((e) => e['tablespaces'] === 2 && Number(e['bytes_total']) > 0)).toBe(true);
    const last = progress.at(-1) as Json;
    expect(last).toMatchObject({ tablespace: 2, eta: 0 });
    expect(last['bytes_done']).toBe(last['bytes_total']);
    // Progress events come while streaming, between the first streaming phase and the wal phase.
    const idx = (pred: (e: Json) => boolean) => events.findIndex(pred);
    expect(idx((e) => e['event'] === 'progress')).toBeGreaterThan(idx((e) => e['phase'] === 'streaming'));
    expect(events.findLastIndex((e) => e['event'] === 'progress')).toBeLessThan(idx((e) => e['phase'] === 'wal'));

    const result = events.at(-2) as Json;
    expect(result['event']).toBe('result');
    expect(withoutEnvelope(result)).toEqual(readMarker(d));
    expect(result).toMatchObject({ status: 'complete', format: 'plain', wal_method: 'stream' });
  });

  it('fd:3: the events arrive on an inherited descriptor (tar, -X fetch)', async () => {
    const d = fresh('tar');
    const child = spawn(process.execPath, [CLI, ...socketArgs(c), '-D', d, '-Ft', '-Xfetch', '-cfast', '--json-events=fd:3'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => chunks.push(b));
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const status = await new Promise<number | null>((res) => child.on('close', (s) => res(s)));
    expect(status, stderr).toBe(0);
    const events = Buffer.concat(chunks).toString().trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
    expect(phases(events)).toEqual(['connecting', 'checkpoint', 'streaming', 'streaming', 'syncing', 'done']);
    expect(withoutEnvelope(events.at(-2) as Json)).toEqual(readMarker(d));
    expect(readMarker(d)).toMatchObject({ format: 'tar', wal_method: 'fetch' });
  });

  it("stderr: JSON lines between pg's messages, which stay as they were", async () => {
    const d = fresh('stderr');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-Ft', '-Xfetch', '-cfast', '-v', '--json-events=stderr'], { env });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Json);
    const text = lines.filter((l) => !l.startsWith('{'));
    expect(phases(json)).toEqual(['connecting', 'checkpoint', 'streaming', 'streaming', 'syncing', 'done']);
    expect(text[0]).toBe('pg_basebackup: initiating base backup, waiting for checkpoint to complete');
    expect(text.at(-1)).toBe('pg_basebackup: base backup completed');
    expect(text.every((l) => l.startsWith('pg_basebackup: '))).toBe(true);
  });

  it('error events: the server failure with its SQLSTATE; a connection failure', async () => {
    const file = fresh('err.ndjson');
    const d = fresh('failing');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', '-S', 'nonexistent', '-r', '1M', '-T', `${tsDir}=${fresh('ts')}`, `--json-events=${file}`], { env });
    expect(r.status).toBe(1);
    const events = readEvents(file);
    expect(events.at(-1)).toMatchObject({
      event: 'error',
      code: 'PGBB_WAL_RECEIVER',
      message: 'background process terminated unexpectedly',
      sqlstate: '42704',
      detail: [],
      hint: null,
    });
    expect(events.filter((e) => e['event'] === 'result')).toEqual([]);
    expect(existsSync(d)).toBe(false);

    const file2 = fresh('conn.ndjson');
    const r2 = await runBasebackup(['-h', c.socketDir, '-p', '1', '-U', 'postgres', '-D', fresh('never'), `--json-events=${file2}`], { env });
    expect(r2.status).toBe(1);
    const e2 = readEvents(file2);
    expect(phases(e2)).toEqual(['connecting']);
    expect(e2.at(-1)).toMatchObject({ event: 'error', code: 'PGBB_CONNECTION', sqlstate: null });
    expect(String(e2.at(-1)?.['message'])).toBe(r2.stderr.replace(/^pg_basebackup: error: /, '').trimEnd());
  });

  it('destination errors: fd:1 with -D -, a descriptor that is not open', async () => {
    const r = await runBasebackup([...socketArgs(c), '-D', '-', '-Ft', '-Xfetch', '--json-events=fd:1'], { env });
    expect(r.status).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe(
      'pg_basebackup: error: --json-events cannot write to standard output when the backup goes there\n' +
        'pg_basebackup: hint: Try "pg_basebackup --help" for more information.\n',
    );
    const d = fresh('bad-fd');
    const r2 = await runBasebackup([...socketArgs(c), '-D', d, '--json-events=fd:987'], { env });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toBe('pg_basebackup: error: could not use --json-events destination "fd:987": Bad file descriptor\n');
    expect(existsSync(d)).toBe(false);
  });

  it('-P: a live bar on a terminal, pg\'s lines otherwise', async () => {
    const d1 = fresh('tty');
    const cmd = [process.execPath, CLI, ...socketArgs(c), '-D', d1, '-Ft', '-Xfetch', '-cfast', '-P', '-r', '8M'].map((a) => `'${a}'`).join(' ');
    const tty = await runTool('script', ['-qec', cmd, '/dev/null'], { env });
    expect(tty.status, tty.stdout.toString()).toBe(0);
    const out = tty.stdout.toString();
    expect(out).toMatch(/\r\[#*·*\] +\d+% {2}[\d.]+ [kMG]?B\/[\d.]+ [kMG]?B {2}[\d.]+ [kMG]?B\/s/);
    expect(out).toMatch(/\[#{20}\] {2}100% .* 2\/2 tablespaces *\r?\n/);
    expect(out).not.toMatch(/ kB \(\d+%\), /);
    expect(existsSync(markerOf(d1))).toBe(true);

    const d2 = fresh('pipe');
    const piped = await runBasebackup([...socketArgs(c), '-D', d2, '-Ft', '-Xfetch', '-cfast', '-P'], { env });
    expect(piped.status, piped.stderr).toBe(0);
    const lines = piped.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('waiting for checkpoint');
    expect(lines.slice(1).every((l) => /^ *\d+\/\d+ kB \(\d+%\), [0-2]\/2 tablespaces$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/\(100%\), 2\/2 tablespaces$/);
  });
});
