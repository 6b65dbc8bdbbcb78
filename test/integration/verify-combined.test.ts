/**
 * pg_verifybackup (ours) on an incremental chain of an 18 server (summarize_wal = on): the incremental
 * backup (INCREMENTAL.* files, plain and tar) verifies, and so does the backup PostgreSQL 18.6's
 * pg_combinebackup writes from the chain; each compared with 18.6's pg_verifybackup when /opt/pg18 is
 * there (skipped by name otherwise).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, runBasebackup, runTool, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { expectSameAsPg, have18, ours } from './verify-support.js';

const PG18_COMBINE = '/opt/pg18/bin/pg_combinebackup';

describe('pg_verifybackup on incremental and combined backups (18)', () => {
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const full = () => join(work, 'full');
  const inc = () => join(work, 'inc');

  beforeAll(async () => {
    work = makeTempDir('pgbb-verifycomb-');
    mkdirSync(join(work, 'home'));
    env = clientEnv(join(work, 'home'));
    c = await PgCluster.start({ major: 18, conf: { summarize_wal: 'on' } });
    await c.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g; CHECKPOINT`);
    const r1 = await runBasebackup([...socketArgs(c), '-cfast', '-D', full()], { env });
    expect(r1.status, r1.stderr).toBe(0);
    await c.query(`UPDATE t SET v = 'changed' WHERE id <= 100; CHECKPOINT`);
    const r2 = await runBasebackup([...socketArgs(c), '-cfast', '-D', inc(), '-i', join(full(), 'backup_manifest')], { env });
    expect(r2.status, r2.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the incremental backup (plain, with INCREMENTAL.* files) verifies, WAL included', async () => {
    expect(readdirSync(join(inc(), 'global')).some((f) => f.startsWith('INCREMENTAL.'))).toBe(true);
    expect(await ours([inc()])).toEqual({ status: 0, stdout: 'backup successfully verified\n', stderr: '' });
    if (have18) await expectSameAsPg([inc()]);
  });

  it('an incremental tar backup verifies, WAL inside pg_wal.tar included', async () => {
    const d = join(work, 'inc-tar');
    const r = await runBasebackup([...socketArgs(c), '-cfast', '-Ft', '-D', d, '-i', join(full(), 'backup_manifest')], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(await ours([d])).toEqual({ status: 0, stdout: 'backup successfully verified\n', stderr: '' });
    if (have18) await expectSameAsPg(['-n', d]);
  });

  it.skipIf(!existsSync(PG18_COMBINE))("the output of PostgreSQL 18.6's pg_combinebackup verifies (same as 18's verifier)", async () => {
    const out = join(work, 'combined');
    const r = await runTool(PG18_COMBINE, ['-o', out, full(), inc()], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(await ours([out])).toEqual({ status: 0, stdout: 'backup successfully verified\n', stderr: '' });
    await expectSameAsPg([out]);
  });
});
