/**
 * SIGINT, SIGTERM and SIGHUP stop a backup cleanly (PostgreSQL 16): exit 1 with "interrupted by
 * signal ...", nothing left behind (data directory, tablespace directories we created, pg_wal.tar),
 * no walsender and no slot on the server (the temporary one goes with the WAL connection; a -C slot
 * of this run is dropped), no process of ours; with --no-clean the marker says "failed".
 *
 * Interrupted at: the checkpoint wait (a spread checkpoint under checkpoint_timeout = 1h: only the
 * CancelRequest can end the walsender's wait quickly), mid-data (throttled with -r), mid-data while
 * the WAL receiver streams (-X stream), and during the final sync (a `sync` stand-in on PATH that
 * takes 3 s, with --sync-method=syncfs).  A second signal exits at once.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, socketArgs, startTablespaceSource, type TablespaceSource } from '../support/backup-helpers.js';
import { type PgCluster } from '../support/pg-cluster.js';
import {
  expectServerClean, markerOf, phases, processesMentioning, readEvents, readMarker, startBackup, statusOf, waitUntil, type Json, type RunningBackup,
} from './events-support.js';

const REAL_SYNC = ['/usr/bin/sync', '/bin/sync'].find((p) => existsSync(p));

describe('stopping a backup with a signal (PostgreSQL 16)', () => {
  let src: TablespaceSource;
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let tsDir: string;
  let seq = 0;
  const fresh = (what: string) => join(work, `${what}-${++seq}`);

  beforeAll(async () => {
    src = await startTablespaceSource('pgbb-signals16-', { major: 16, conf: { autovacuum: 'off', checkpoint_timeout: '1h', max_wal_size: '4GB' } });
    ({ c, work, env, tsDir } = src);
    await c.query(`CREATE TABLE t_main AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 30000) g;
      CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g; CHECKPOINT`);
  });

  afterAll(async () => {
    await src?.destroy();
  });

  interface Case {
    run: RunningBackup;
    events: string;
  }

  function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Case {
    const events = fresh('events.ndjson');
    return { run: startBackup([...socketArgs(c), ...args, `--json-events=${events}`], { ...env, ...extraEnv }), events };
  }

  /** Signal, then: exit 1 soon, pg-style message, error event last, no process of ours, a clean server. */
  async function stopWith(k: Case, sig: NodeJS.Signals): Promise<{ stderr: string; events: Json[] }> {
    const t0 = Date.now();
    k.run.kill(sig);
    const r = await k.run.exited;
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(1);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.stderr).toContain(`pg_basebackup: error: interrupted by signal ${sig}\n`);
    const events = readEvents(k.events);
    expect(events.at(-1)).toMatchObject({ event: 'error', code: 'PGBB_ABORTED', message: `interrupted by signal ${sig}`, sqlstate: null });
    expect(await processesMentioning(work)).toEqual([]);
    await expectServerClean(c);
    return { stderr: r.stderr, events };
  }

  const streamingStarted = (k: Case) => () => readEvents(k.events).some((e) => e['event'] === 'progress' && Number(e['bytes_done']) > 0);

  it('SIGINT during the checkpoint wait (plain): the server stops waiting, everything goes', async () => {
    await c.query('UPDATE t_main SET v = v'); // dirty buffers: the spread checkpoint takes most of an hour
    const d = fresh('ckpt-plain');
    const ts = fresh('ts');
    const k = start(['-D', d, '-c', 'spread', '-T', `${tsDir}=${ts}`]);
    await waitUntil('the checkpoint phase', () => phases(readEvents(k.events)).includes('checkpoint'));
    await waitUntil('the walsender to wait for the checkpoint', async () => (await c.query("SELECT 1 FROM pg_stat_activity WHERE backend_type = 'walsender'")).length === 1);
    await new Promise((r) => setTimeout(r, 500));
    const { events, stderr } = await stopWith(k, 'SIGINT');
    expect(phases(events)).toEqual(['connecting', 'checkpoint']);
    expect(stderr).toContain(`pg_basebackup: removing data directory "${d}"`);
    expect(existsSync(d)).toBe(false);
    expect(existsSync(ts)).toBe(false); // never created: the tablespaces come after the checkpoint
  });

  it('SIGTERM during the checkpoint wait (tar, -X fetch)', async () => {
    await c.query('UPDATE t_main SET v = v');
    const d = fresh('ckpt-tar');
    const k = start(['-D', d, '-Ft', '-Xfetch', '-c', 'spread']);
    await waitUntil('the checkpoint phase', () => phases(readEvents(k.events)).includes('checkpoint'));
    await new Promise((r) => setTimeout(r, 1000));
    await stopWith(k, 'SIGTERM');
    expect(existsSync(d)).toBe(false);
  });

  it('SIGTERM mid-data while WAL streams (plain, -T): data, tablespace and WAL gone, temporary slot gone', async () => {
    const d = fresh('data-plain');
    const ts = fresh('ts');
    const k = start(['-D', d, '-cfast', '-r', '32k', '-Xstream', '-T', `${tsDir}=${ts}`]);
    await waitUntil('data to arrive', streamingStarted(k));
    await waitUntil('the temporary slot', async () => (await c.query("SELECT 1 FROM pg_replication_slots WHERE temporary AND active")).length === 1);
    expect(existsSync(join(d, 'pg_wal', 'archive_status'))).toBe(true);
    const { stderr } = await stopWith(k, 'SIGTERM');
    expect(stderr).toContain(`pg_basebackup: removing data directory "${d}"`);
    expect(existsSync(d)).toBe(false);
    expect(existsSync(ts)).toBe(false);
    // The marker is beside the directory: it stays, "failed" with the error, and says the directory is gone.
    expect(readMarker(d)).toMatchObject({ status: 'failed', error: { code: 'PGBB_ABORTED', message: 'interrupted by signal SIGTERM', sqlstate: null } });
    expect(await statusOf(d)).toMatchObject({ code: 1, state: { state: 'failed', directory_exists: false } });
  });

  it('SIGINT mid-data (tar, -X stream, -C -S): the slot this run created is dropped, pg_wal.tar goes', async () => {
    const d = fresh('data-tar');
    const k = start(['-D', d, '-Ft', '-cfast', '-r', '32k', '-Xstream', '-C', '-S', 'provisioned']);
    await waitUntil('data to arrive', streamingStarted(k));
    await waitUntil('the slot to be in use', async () => (await c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'provisioned' AND active")).length === 1);
    expect(existsSync(join(d, 'pg_wal.tar'))).toBe(true);
    const { stderr } = await stopWith(k, 'SIGINT');
    expect(stderr).toContain('pg_basebackup: dropped replication slot "provisioned"');
    expect(existsSync(d)).toBe(false);
  });

  it('SIGINT mid-data with --no-clean: files kept, the marker says "failed"', async () => {
    const d = fresh('no-clean');
    const k = start(['-D', d, '-cfast', '-r', '32k', '-n', '-T', `${tsDir}=${fresh('ts')}`]);
    await waitUntil('data to arrive', streamingStarted(k));
    const { stderr } = await stopWith(k, 'SIGINT');
    expect(stderr).toContain(`pg_basebackup: data directory "${d}" not removed at user's request`);
    expect(readMarker(d)).toMatchObject({ status: 'failed', error: { code: 'PGBB_ABORTED', message: 'interrupted by signal SIGINT', sqlstate: null } });
    expect(await statusOf(d)).toMatchObject({ code: 1, state: { state: 'failed' } });
  });

  it('SIGHUP mid-data: a directory that was empty is emptied again', async () => {
    const d = fresh('was-empty');
    mkdirSync(d);
    const k = start(['-D', d, '-cfast', '-r', '32k', '-Xfetch', '-T', `${tsDir}=${fresh('ts')}`]);
    await waitUntil('data to arrive', streamingStarted(k));
    const { stderr } = await stopWith(k, 'SIGHUP');
    expect(stderr).toContain(`pg_basebackup: removing contents of data directory "${d}"`);
    expect(readdirSync(d)).toEqual([]);
  });

  describe.runIf(REAL_SYNC !== undefined)('during the final sync', () => {
    /** A `sync` that announces itself, takes 3 s, then runs the real one. */
    function slowSyncPath(): { path: string; flag: string } {
      const bin = fresh('bin');
      mkdirSync(bin);
      const flag = join(bin, 'sync-started');
      writeFileSync(join(bin, 'sync'), `#!/bin/sh\ntouch '${flag}'\nsleep 3\nexec ${REAL_SYNC} "$@"\n`);
      chmodSync(join(bin, 'sync'), 0o755);
      return { path: `${bin}:${env['PATH'] ?? ''}`, flag };
    }

    it('SIGTERM while syncing (plain, --sync-method=syncfs): everything goes', async () => {
      const d = fresh('sync-plain');
      const ts = fresh('ts');
      const { path, flag } = slowSyncPath();
      const k = start(['-D', d, '-cfast', '--sync-method=syncfs', '-T', `${tsDir}=${ts}`], { PATH: path });
      await waitUntil('the sync to start', () => existsSync(flag));
      expect(phases(readEvents(k.events)).at(-1)).toBe('syncing');
      const { events } = await stopWith(k, 'SIGTERM');
      expect(phases(events).at(-1)).toBe('syncing');
      expect(events.some((e) => e['event'] === 'result')).toBe(false);
      expect(existsSync(d)).toBe(false);
      expect(existsSync(ts)).toBe(false);
    });

    it('a second signal exits at once: the marker stays "in progress" with no process behind it', async () => {
      const d = fresh('twice');
      const { path, flag } = slowSyncPath();
      const k = start(['-D', d, '-Ft', '-Xfetch', '-cfast', '--sync-method=syncfs'], { PATH: path });
      await waitUntil('the sync to start', () => existsSync(flag));
      k.run.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 300));
      k.run.kill('SIGINT');
      const r = await k.run.exited;
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('pg_basebackup: error: interrupted by signal SIGINT again, exiting at once\n');
      expect(readMarker(d)['status']).toBe('in progress');
      const st = await statusOf(d);
      expect(st).toMatchObject({ code: 1, state: { state: 'in progress', process_running: false } });
      expect(await processesMentioning(work)).toEqual([]);
      await expectServerClean(c);
      rmSync(d, { recursive: true, force: true });
    });
  });

  it('the marker file is what the status command reads: beside the directory', () => {
    expect(markerOf('/backups/b1')).toBe('/backups/b1.pg-basebackup-status.json');
  });

  it('SIGTERM while -D - waits for a reader that stopped reading (last: drops the tablespace)', async () => {
    await c.query('DROP TABLE t_ts');
    await c.query('DROP TABLESPACE ts1'); // one tablespace only on stdout
    const events = fresh('events.ndjson');
    const child = spawn(process.execPath, [CLI, ...socketArgs(c), '-D', '-', '-Ft', '-Xfetch', '-cfast', `--json-events=${events}`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pause(); // the pipe fills up and stays full
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    await waitUntil('data to arrive', () => readEvents(events).some((e) => e['event'] === 'progress' && Number(e['bytes_done']) > 0));
    await new Promise((r) => setTimeout(r, 1000));
    expect(readEvents(events).some((e) => e['event'] === 'result')).toBe(false); // still stuck
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(code, stderr).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(stderr).toBe('pg_basebackup: error: interrupted by signal SIGTERM\n');
    await expectServerClean(c);
  });
});
