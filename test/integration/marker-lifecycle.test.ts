/**
 * The completion marker DIR.pg-basebackup-status.json (beside the target) against a real server (15,
 * so that Debian's pg_verifybackup 15 checks the result with default options when installed): "in
 * progress" while a throttled backup runs, "complete" with the LSNs pg reports after it (plain and tar,
 * with a tablespace), "failed" with the error after a cleaned failure (directory gone) and after a
 * --no-clean one; --status-file, --no-status-file, an unwritable parent (warning, backup made), an
 * unwritable --status-file (error, nothing created); pg-basebackup-status's exit codes; and a marker
 * inside the source's data directory (written there by earlier versions) is never taken for ours.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, clientEnv, extractTar, parseBackupLabel, runBasebackup, runTool, socketArgs } from '../support/backup-helpers.js';
import { chownForServer, makeTempDir, PgCluster, systemTool } from '../support/pg-cluster.js';
import { MARKER_NAME } from '../../src/backup/completion-marker.js';
import { expectServerClean, markerOf, phases, readEvents, readMarker, startBackup, statusOf, waitUntil, type Json } from './events-support.js';

describe('completion marker (PostgreSQL 15)', () => {
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let tsDir: string;
  let tsOid: string;
  let systemId: string;
  let seq = 0;
  const fresh = (what: string) => join(work, `${what}-${++seq}`);
  const verify = systemTool('pg_verifybackup', 15);

  beforeAll(async () => {
    work = makeTempDir('pgbb-marker15-');
    mkdirSync(join(work, 'home'));
    env = clientEnv(join(work, 'home'));
    tsDir = join(work, 'ts-source');
    mkdirSync(tsDir);
    chownForServer(tsDir);
    c = await PgCluster.start({ major: 15, conf: { autovacuum: 'off' } });
    await c.query(`CREATE TABLESPACE ts1 LOCATION '${tsDir}'`);
    await c.query(`CREATE TABLE t_main AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 40000) g;
      CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g; CHECKPOINT`);
    const [row] = await c.query<{ oid: string; sysid: string }>(
      "SELECT (SELECT oid::text FROM pg_tablespace WHERE spcname = 'ts1') AS oid, (SELECT system_identifier::text FROM pg_control_system()) AS sysid",
    );
    tsOid = row?.oid ?? '';
    systemId = row?.sysid ?? '';
  });

  afterAll(async () => {
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The fields of the final marker that must agree with backup_label and the -v output. */
  function checkComplete(m: Json, dir: string, label: Map<string, string>, stderr: string, format: 'plain' | 'tar'): void {
    const endPoint = /write-ahead log end point: (\S+)/.exec(stderr)?.[1];
    const [startLsn, startFile] = /^(\S+) \(file (\S+)\)$/.exec(label.get('START WAL LOCATION') ?? '')?.slice(1) ?? [];
    expect(m).toMatchObject({
      status: 'complete',
      format_version: 1,
      tool: 'pg-basebackup',
      target: realpathSync(dir),
      format,
      wal_method: 'stream',
      manifest: true,
      system_identifier: systemId,
      start_lsn: startLsn,
      end_lsn: endPoint,
      timeline: Number(label.get('START TIMELINE')),
      server: { host: c.socketDir, port: c.port },
    });
    expect(endPoint).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect((m['wal'] as Json)['start']).toBe(startFile);
    expect(m['label']).toBe(label.get('LABEL'));
    expect(typeof m['run_id']).toBe('string');
    expect(Date.parse(String(m['finished_at']))).toBeGreaterThanOrEqual(Date.parse(String(m['started_at'])));
    expect(m['bytes']).toBeGreaterThan(1_000_000);
  }

  it('plain: "in progress" during a throttled backup, then "complete" with the LSNs of backup_label and -v', async () => {
    const d = fresh('plain');
    const mapped = fresh('ts-mapped');
    const events = fresh('events');
    const run = startBackup([...socketArgs(c), '-D', d, '-cfast', '-v', '-r', '4M', '-T', `${tsDir}=${mapped}`, '-l', 'marker test', `--json-events=${events}`], env);
    await waitUntil('the data to stream', () => phases(readEvents(events)).includes('streaming'));
    const during = readMarker(d);
    expect(during).toMatchObject({ status: 'in progress', format_version: 1, target: realpathSync(d), label: 'marker test', pid: run.child.pid });
    expect(Object.keys(during)).not.toContain('start_lsn');
    const st = await statusOf(d);
    expect(st.code).toBe(1);
    expect(st.state).toMatchObject({ state: 'in progress', process_running: true });
    expect(existsSync(join(d, 'backup_manifest'))).toBe(false);

    const r = await run.exited;
    expect(r.status, r.stderr).toBe(0);
    const m = readMarker(d);
    checkComplete(m, d, parseBackupLabel(readFileSync(join(d, 'backup_label'), 'utf8')), r.stderr, 'plain');
    expect(m['run_id']).toBe(during['run_id']);
    expect(m['tablespaces']).toEqual([{ oid: tsOid, location: tsDir, mapped_location: mapped }]);
    expect(readdirSync(d)).not.toContain(MARKER_NAME);
    expect(existsSync(`${markerOf(d)}.tmp`)).toBe(false);
    const done = await statusOf(d);
    expect(done.code).toBe(0);
    expect(done.state).toMatchObject({ state: 'complete', directory: realpathSync(d), status_file: markerOf(d), directory_exists: true });
    // The marker file itself is accepted too.
    expect(await statusOf(markerOf(d))).toMatchObject({ code: 0, state: { state: 'complete' } });

    if (verify !== undefined) {
      // With default options: nothing in the directory that the manifest does not list.
      const ok = await runTool(verify, [d], { env });
      expect(ok.status, ok.stderr).toBe(0);
    }
    rmSync(d, { recursive: true, force: true });
    rmSync(mapped, { recursive: true, force: true });
  });

  it('tar: the marker in the output directory, LSNs as in the archived backup_label', async () => {
    const d = fresh('tar');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-Ft', '-cfast', '-v'], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(d).sort()).toEqual([`${tsOid}.tar`, 'backup_manifest', 'base.tar', 'pg_wal.tar']);
    const label = await runTool('tar', ['-xOf', join(d, 'base.tar'), 'backup_label']);
    const m = readMarker(d);
    checkComplete(m, d, parseBackupLabel(label.stdout.toString()), r.stderr, 'tar');
    expect(m['tablespaces']).toEqual([{ oid: tsOid, location: tsDir, mapped_location: null }]);
    expect((await statusOf(d)).code).toBe(0);
    rmSync(d, { recursive: true, force: true });
  });

  it('a cleaned failure leaves a "failed" marker beside the removed directory; with --no-clean both stay', async () => {
    // The WAL receiver fails (no such slot) while the throttled base backup is being received.
    const failing = (d: string, extra: string[]) => runBasebackup([...socketArgs(c), '-D', d, '-cfast', '-S', 'nonexistent', '-r', '1M', ...extra], { env });
    const created = fresh('cleaned');
    const r1 = await failing(created, ['-T', `${tsDir}=${fresh('ts-v')}`]);
    expect(r1.status).toBe(1);
    expect(existsSync(created)).toBe(false);
    const gone = await statusOf(created);
    expect(gone.code).toBe(1);
    expect(gone.state).toMatchObject({ state: 'failed', directory_exists: false, marker: { error: { code: 'PGBB_WAL_RECEIVER', sqlstate: '42704' } } });
    // A new run on the same target replaces it.
    const again = await runBasebackup([...socketArgs(c), '-D', created, '-cfast', '-T', `${tsDir}=${fresh('ts-w')}`], { env });
    expect(again.status, again.stderr).toBe(0);
    expect(await statusOf(created)).toMatchObject({ code: 0, state: { state: 'complete', directory_exists: true } });
    rmSync(created, { recursive: true, force: true });

    const empty = fresh('was-empty');
    mkdirSync(empty);
    const r2 = await failing(empty, ['-T', `${tsDir}=${fresh('ts-x')}`]);
    expect(r2.status).toBe(1);
    expect(readdirSync(empty)).toEqual([]);
    expect(await statusOf(empty)).toMatchObject({ code: 1, state: { state: 'failed', directory_exists: true } });

    const kept = fresh('kept');
    const r3 = await failing(kept, ['-n', '-T', `${tsDir}=${fresh('ts-y')}`]);
    expect(r3.status).toBe(1);
    const m = readMarker(kept);
    expect(m).toMatchObject({
      status: 'failed',
      target: realpathSync(kept),
      error: { code: 'PGBB_WAL_RECEIVER', message: 'background process terminated unexpectedly', sqlstate: '42704' },
    });
    expect(Date.parse(String(m['finished_at']))).toBeGreaterThanOrEqual(Date.parse(String(m['started_at'])));
    const st = await statusOf(kept);
    expect(st.code).toBe(1);
    expect(st.state).toMatchObject({ state: 'failed' });
    await expectServerClean(c);
  });

  it('a marker copied elsewhere is foreign; a directory without one is missing', async () => {
    const d = fresh('orig');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-Ft', '-cfast', '-Xnone'], { env });
    expect(r.status, r.stderr).toBe(0);
    const copy = fresh('copy');
    mkdirSync(copy);
    copyFileSync(markerOf(d), markerOf(copy));
    const st = await statusOf(copy);
    expect(st.code).toBe(1);
    expect(st.state).toMatchObject({ state: 'foreign' });
    expect(String(st.state['reason'])).toContain('not for this directory');
    const none = fresh('none');
    mkdirSync(none);
    expect(await statusOf(none)).toMatchObject({ code: 1, state: { state: 'missing' } });
    expect(await statusOf(join(work, 'no-such-dir'))).toMatchObject({ code: 1, state: { state: 'missing' } });
    rmSync(d, { recursive: true, force: true });
  });

  it("a marker inside the source's data directory (earlier versions) is dropped (plain) and never taken for ours (tar)", async () => {
    // As if the source were a standby provisioned by an earlier version: its data directory holds its marker.
    const foreign = { status: 'complete', format_version: 1, run_id: 'source-run', tool: 'pg-basebackup', target: realpathSync(c.dataDir) };
    for (const name of [MARKER_NAME, `${MARKER_NAME}.tmp`]) {
      writeFileSync(join(c.dataDir, name), JSON.stringify(foreign));
      chownForServer(join(c.dataDir, name));
    }
    try {
      const plain = fresh('from-standby');
      const r = await runBasebackup([...socketArgs(c), '-D', plain, '-cfast', '-T', `${tsDir}=${fresh('ts-z')}`], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(readMarker(plain)['run_id']).not.toBe('source-run');
      expect(readdirSync(plain)).not.toContain(`${MARKER_NAME}.tmp`);
      expect(readdirSync(plain)).not.toContain(MARKER_NAME);
      expect((await statusOf(plain)).code).toBe(0);

      const tar = fresh('tar-from-standby');
      const t = await runBasebackup([...socketArgs(c), '-D', tar, '-Ft', '-cfast', '-Xfetch'], { env });
      expect(t.status, t.stderr).toBe(0);
      expect(readMarker(tar)['run_id']).not.toBe('source-run');
      // The archive keeps the source's files as they are; extracted, the old marker inside is not read.
      const restored = fresh('restored');
      mkdirSync(restored);
      await extractTar(join(tar, 'base.tar'), restored);
      expect(readdirSync(restored)).toContain(MARKER_NAME);
      expect(await statusOf(restored)).toMatchObject({ code: 1, state: { state: 'missing' } });
    } finally {
      rmSync(join(c.dataDir, MARKER_NAME), { force: true });
      rmSync(join(c.dataDir, `${MARKER_NAME}.tmp`), { force: true });
    }
  });

  it('--status-file: the marker there (also for -D -); --no-status-file: none', async () => {
    const d = fresh('explicit');
    const file = fresh('explicit-status') + '.json';
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-Ft', '-cfast', '-Xfetch', `--status-file=${file}`], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(markerOf(d))).toBe(false);
    expect(await statusOf(file)).toMatchObject({ code: 0, state: { state: 'complete', directory: realpathSync(d), status_file: file } });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ status: 'complete', target: realpathSync(d), status_file: file });
    rmSync(d, { recursive: true, force: true });

    // A pipeline to stdout gets one too (one tablespace only on stdout: -Xfetch of a base without ts1 is refused, so a plain tar list is not needed).
    const none = fresh('none-marker');
    const n = await runBasebackup([...socketArgs(c), '-D', none, '-Ft', '-cfast', '-Xnone', '--no-status-file'], { env });
    expect(n.status, n.stderr).toBe(0);
    expect(existsSync(markerOf(none))).toBe(false);
    expect(readdirSync(join(none, '..')).filter((f) => f.startsWith('none-marker') && f.endsWith('.json'))).toEqual([]);
    rmSync(none, { recursive: true, force: true });
  });

  it('an unwritable --status-file fails before anything is created', async () => {
    const d = fresh('never');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', `--status-file=${join(work, 'no-such-dir', 's.json')}`], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`pg_basebackup: error: could not write status file "${join(work, 'no-such-dir', 's.json')}": No such file or directory\n`);
    expect(existsSync(d)).toBe(false);
    await expectServerClean(c);
  });

  /** Every name under `root` (relative), WAL segment names replaced by a placeholder: they depend on when each run started. */
  function names(root: string): string[] {
    const out: string[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const r = rel === '' ? e.name : `${rel}/${e.name}`;
        out.push(/^pg_wal\/[0-9A-F]{24}$/.test(r) ? 'pg_wal/<segment>' : /^pg_wal\/archive_status\/[0-9A-F]{24}\.done$/.test(r) ? 'pg_wal/archive_status/<segment>.done' : r);
        if (e.isDirectory()) walk(join(dir, e.name), r);
      }
    };
    walk(root, '');
    return [...new Set(out)].sort();
  }

  const pgBasebackup15 = systemTool('pg_basebackup', 15);
  it.skipIf(pgBasebackup15 === undefined)("each format's target holds the names Debian's pg_basebackup 15 writes for the same options (needs Debian's pg_basebackup 15)", async () => {
    const formats: [string, string[]][] = [
      ['plain-stream', ['-Xstream']],
      ['plain-fetch', ['-Xfetch']],
      ['tar-stream', ['-Ft', '-Xstream']],
      ['tar-gzip', ['-Ft', '-z', '-Xfetch']],
      ['tar-none', ['-Ft', '-Xnone', '--no-manifest']],
    ];
    for (const [name, opts] of formats) {
      const listings: string[][] = [];
      for (const tool of ['ours', 'pg']) {
        const d = fresh(`${name}-${tool}`);
        const mapped = fresh(`${name}-${tool}-ts`);
        const args = [...socketArgs(c), '-D', d, '-cfast', ...opts, ...(opts.includes('-Ft') ? [] : ['-T', `${tsDir}=${mapped}`])];
        const r = tool === 'ours' ? await runBasebackup(args, { env }) : await runTool(pgBasebackup15 as string, args, { env });
        expect(r.status, `${tool} ${name}: ${r.stderr}`).toBe(0);
        listings.push(names(d));
        if (!opts.includes('-Ft')) listings.push(names(mapped));
        expect(existsSync(markerOf(d))).toBe(tool === 'ours');
        rmSync(d, { recursive: true, force: true });
        rmSync(mapped, { recursive: true, force: true });
        rmSync(markerOf(d), { force: true });
      }
      const half = listings.length / 2;
      expect(listings.slice(0, half), name).toEqual(listings.slice(half));
      expect(listings[0], name).not.toContain(MARKER_NAME);
    }
  });

  it('an unwritable parent of the target: a warning with a hint, and the backup is made without a marker', async () => {
    // The target exists (empty, writable); its parent is not writable by the client.
    const parent = fresh('ro-parent');
    mkdirSync(parent);
    const d = join(parent, 'data');
    mkdirSync(d);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(d, 65534, 65534);
    else chmodSync(parent, 0o555);
    const home = fresh('home-nobody');
    mkdirSync(home);
    if (asRoot) chownSync(home, 65534, 65534);
    try {
      const args = [...socketArgs(c), '-D', d, '-Ft', '-cfast', '-Xfetch'];
      const r = asRoot
        ? await runTool('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], { env: { ...env, HOME: home } })
        : await runBasebackup(args, { env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe(
        `pg_basebackup: warning: could not write status file "${markerOf(d)}": Permission denied\n` +
          'pg_basebackup: hint: Use --status-file=PATH to write the completion marker elsewhere, or --no-status-file.\n',
      );
      expect(readdirSync(d).sort()).toEqual([`${tsOid}.tar`, 'backup_manifest', 'base.tar']);
      expect(existsSync(markerOf(d))).toBe(false);
    } finally {
      chmodSync(parent, 0o755);
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
