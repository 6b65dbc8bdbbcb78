/**
 * The completion marker pg-basebackup-status.json against a real server (15, so that Debian's
 * pg_verifybackup 15 can check the result when installed): "in progress" while a throttled backup
 * runs, "complete" with the LSNs pg reports after it (plain and tar, with a tablespace), gone after a
 * cleaned failure, "failed" after a --no-clean one; pg-basebackup-status's exit codes; and a marker
 * inside the source's data directory (a standby we provisioned, now backed up) is never taken for ours.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, extractTar, parseBackupLabel, runBasebackup, runTool, socketArgs } from '../support/backup-helpers.js';
import { chownForServer, makeTempDir, PgCluster, systemTool } from '../support/pg-cluster.js';
import { expectServerClean, MARKER, phases, readEvents, readMarker, startBackup, statusOf, waitUntil, type Json } from './events-support.js';

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
    expect(readdirSync(d)).not.toContain(`${MARKER}.tmp`);
    const done = await statusOf(d);
    expect(done.code).toBe(0);
    expect(done.state).toMatchObject({ state: 'complete', directory: realpathSync(d) });

    if (verify !== undefined) {
      // pg_verifybackup reports files the manifest does not list: the marker needs --ignore.
      const bare = await runTool(verify, ['-n', d], { env });
      expect(bare.status).toBe(1);
      expect(bare.stderr).toContain(`"${MARKER}" is present on disk but not in the manifest`);
      const ok = await runTool(verify, [`--ignore=${MARKER}`, d], { env });
      expect(ok.status, ok.stderr).toBe(0);
    }
    rmSync(d, { recursive: true, force: true });
    rmSync(mapped, { recursive: true, force: true });
  });

  it('tar: the marker in the output directory, LSNs as in the archived backup_label', async () => {
    const d = fresh('tar');
    const r = await runBasebackup([...socketArgs(c), '-D', d, '-Ft', '-cfast', '-v'], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(d).sort()).toEqual([`${tsOid}.tar`, 'backup_manifest', 'base.tar', MARKER, 'pg_wal.tar']);
    const label = await runTool('tar', ['-xOf', join(d, 'base.tar'), 'backup_label']);
    const m = readMarker(d);
    checkComplete(m, d, parseBackupLabel(label.stdout.toString()), r.stderr, 'tar');
    expect(m['tablespaces']).toEqual([{ oid: tsOid, location: tsDir, mapped_location: null }]);
    expect((await statusOf(d)).code).toBe(0);
    rmSync(d, { recursive: true, force: true });
  });

  it('a cleaned failure leaves no marker; with --no-clean it says "failed" with the error', async () => {
    // The WAL receiver fails (no such slot) while the throttled base backup is being received.
    const failing = (d: string, extra: string[]) => runBasebackup([...socketArgs(c), '-D', d, '-cfast', '-S', 'nonexistent', '-r', '1M', ...extra], { env });
    const created = fresh('cleaned');
    const r1 = await failing(created, []);
    expect(r1.status).toBe(1);
    expect(existsSync(created)).toBe(false);
    expect((await statusOf(created)).state).toMatchObject({ state: 'missing' });

    const empty = fresh('was-empty');
    mkdirSync(empty);
    const r2 = await failing(empty, ['-T', `${tsDir}=${fresh('ts-x')}`]);
    expect(r2.status).toBe(1);
    expect(readdirSync(empty)).toEqual([]);

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
    copyFileSync(join(d, MARKER), join(copy, MARKER));
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

  it("a marker inside the source's data directory is dropped (plain) and foreign once extracted (tar)", async () => {
    // As if the source were a standby that we provisioned: its data directory holds our complete marker.
    const foreign = { status: 'complete', format_version: 1, run_id: 'source-run', tool: 'pg-basebackup', target: realpathSync(c.dataDir) };
    for (const name of [MARKER, `${MARKER}.tmp`]) {
      writeFileSync(join(c.dataDir, name), JSON.stringify(foreign));
      chownForServer(join(c.dataDir, name));
    }
    try {
      const plain = fresh('from-standby');
      const r = await runBasebackup([...socketArgs(c), '-D', plain, '-cfast', '-T', `${tsDir}=${fresh('ts-z')}`], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(readMarker(plain)['run_id']).not.toBe('source-run');
      expect(readdirSync(plain)).not.toContain(`${MARKER}.tmp`);
      expect((await statusOf(plain)).code).toBe(0);

      const tar = fresh('tar-from-standby');
      const t = await runBasebackup([...socketArgs(c), '-D', tar, '-Ft', '-cfast', '-Xfetch'], { env });
      expect(t.status, t.stderr).toBe(0);
      expect(readMarker(tar)['run_id']).not.toBe('source-run');
      // The archive keeps the source's files as they are; extracted, its marker is not this directory's.
      const restored = fresh('restored');
      mkdirSync(restored);
      await extractTar(join(tar, 'base.tar'), restored);
      expect(readMarker(restored)['run_id']).toBe('source-run');
      expect(await statusOf(restored)).toMatchObject({ code: 1, state: { state: 'foreign' } });
    } finally {
      rmSync(join(c.dataDir, MARKER), { force: true });
      rmSync(join(c.dataDir, `${MARKER}.tmp`), { force: true });
    }
  });
});
