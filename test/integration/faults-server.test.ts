/**
 * Issue 10, faults against a real PostgreSQL 15 server:
 * - finding 8: `-X stream -Fp -C -S s1`, then `pg_ctl stop -m immediate` mid-transfer and the server
 *   started again about a second later: the drop of the slot this run created is retried (backing off,
 *   within 30 s) and succeeds once the server is back, instead of failing at once and leaving a
 *   permanent slot holding WAL;
 * - the walsender terminated mid-transfer: the same, at once;
 * - `-n` on a full disk: the "failed" marker cannot be written (ENOSPC) and stays "in progress";
 *   pg-basebackup-status still says the writing process is gone (needs root, for a small tmpfs).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { clientEnv, socketArgs } from '../support/backup-helpers.js';
import { expectServerClean, readMarker, startBackup, statusOf, waitUntil } from './events-support.js';

const isRoot = process.getuid?.() === 0;

describe('faults against a real server (PostgreSQL 15)', () => {
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let n = 0;
  const fresh = (name: string) => join(work, `${name}-${++n}`);

  beforeAll(async () => {
    c = await PgCluster.start({ major: 15 });
    work = makeTempDir('pgbb-faults-');
    env = clientEnv(work);
  });
  afterAll(async () => {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  const slotNames = async () => (await c.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots ORDER BY 1')).map((r) => r.slot_name);

  it('finding 8: immediate stop mid-transfer (-X stream -Fp -C -S s1), server back a second later: the slot is dropped', async () => {
    const d = fresh('immediate');
    const k = startBackup([...socketArgs(c), '-D', d, '-Fp', '-Xstream', '-C', '-S', 's1', '-r', '32k', '-cfast'], env);
    await waitUntil('data to arrive', () => existsSync(join(d, 'PG_VERSION')) || existsSync(join(d, 'global')));
    await waitUntil('the slot to be in use', async () => (await c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 's1' AND active")).length === 1);
    await c.stop('immediate');
    await new Promise((r) => setTimeout(r, 1000));
    await c.startAgain();
    const r = await k.exited;
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^pg_basebackup: error: /m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).toContain('pg_basebackup: dropped replication slot "s1"');
    expect(r.stderr).not.toContain('could not drop replication slot');
    expect(existsSync(d)).toBe(false);
    expect(await slotNames()).toEqual([]);
    await expectServerClean(c);
  });

  it('the walsender terminated mid-transfer (-C -S s2): exit 1, the slot dropped', async () => {
    const d = fresh('terminated');
    const k = startBackup([...socketArgs(c), '-D', d, '-Ft', '-Xstream', '-C', '-S', 's2', '-r', '32k', '-cfast'], env);
    await waitUntil('the slot to be in use', async () => (await c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 's2' AND active")).length === 1);
    await waitUntil('base.tar', () => existsSync(join(d, 'base.tar')));
    await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walsender' AND query LIKE 'BASE_BACKUP%'");
    const r = await k.exited;
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^pg_basebackup: error: .*terminating connection due to administrator command/m);
    expect(r.stderr).toContain('pg_basebackup: dropped replication slot "s2"');
    expect(existsSync(d)).toBe(false);
    await expectServerClean(c);
  });

  it.skipIf(!isRoot)('-n on a full disk: the failed marker cannot be written, the status command says the process is gone (root: tmpfs)', async () => {
    const mnt = fresh('tmpfs');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    try {
      const d = join(mnt, 'b1');
      const k = startBackup([...socketArgs(c), '-D', d, '-Fp', '-Xfetch', '-n', '-cfast'], env);
      const r = await k.exited;
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^pg_basebackup: error: could not (write to|create) file .*: No space left on device$/m);
      expect(r.stderr).toMatch(/^pg_basebackup: warning: could not (create|write) file ".*b1\.pg-basebackup-status\.json\.tmp": No space left on device$/m);
      expect(r.stderr).toContain(`pg_basebackup: data directory "${d}" not removed at user's request`);
      expect(readdirSync(d).length).toBeGreaterThan(0);
      expect(readMarker(d)['status']).toBe('in progress');
      const st = await statusOf(d);
      expect(st).toMatchObject({ code: 1, state: { state: 'in progress', process_running: false } });
    } finally {
      execFileSync('umount', [mnt]);
    }
    await expectServerClean(c);
  });
});

describe.each([15, 16] as const)('in-place tablespaces (PostgreSQL %i; 16+ announce them as pg_tblspc/<oid>): the stricter checks accept them', (major) => {
  let c: PgCluster;
  let work: string;

  beforeAll(async () => {
    c = await PgCluster.start({ major, conf: { allow_in_place_tablespaces: 'on' } });
    work = makeTempDir('pgbb-inplace-');
    await c.query("CREATE TABLESPACE inplace LOCATION ''");
    await c.query('CREATE TABLE t_inplace TABLESPACE inplace AS SELECT g FROM generate_series(1, 1000) g');
  });
  afterAll(async () => {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('plain and tar backups succeed, the tablespace inside the backup', async () => {
    const [ts] = await c.query<{ oid: string }>("SELECT oid::text AS oid FROM pg_tablespace WHERE spcname = 'inplace'");
    for (const format of ['-Fp', '-Ft']) {
      const d = join(work, format);
      const k = startBackup([...socketArgs(c), '-D', d, format, '-Xfetch', '-cfast', '--no-status-file'], clientEnv(work));
      const r = await k.exited;
      expect(r.status, r.stderr).toBe(0);
      if (format === '-Fp') expect(readdirSync(join(d, 'pg_tblspc', ts!.oid)).length).toBeGreaterThan(0);
      // 15 sends an in-place tablespace inside base.tar; 16+ as its own archive.
      else if (major >= 16) expect(readdirSync(d)).toContain(`${ts!.oid}.tar`);
      else expect(readdirSync(d).sort()).toEqual(['backup_manifest', 'base.tar']);
    }
  });
});
