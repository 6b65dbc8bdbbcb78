/**
 * Issue 9: PostgreSQL 18's own pg_verifybackup, with default options, accepts our backups of an 18
 * server: plain (the completion marker is beside the directory, not in it), and tar (`-n`: 18 cannot
 * parse WAL inside tar), uncompressed and with client-side gzip, lz4 and zstd.  Also: the directory
 * listing of each format holds exactly pg's files.  Needs the 18 build (../shared/scripts/build-pg-tools.sh
 * 18, which .ci/run provides); skipped, by name, without it.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARKER_NAME } from '../../src/backup/completion-marker.js';
import { clientEnv, runBasebackup, runTool, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { markerOf, statusOf } from './events-support.js';

const PG18_VERIFY = '/opt/pg18/bin/pg_verifybackup';
const have18 = existsSync(PG18_VERIFY);

describe.skipIf(!have18)('PostgreSQL 18 pg_verifybackup accepts our backups with default options (needs /opt/pg18)', () => {
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let seq = 0;
  const fresh = (what: string) => join(work, `${what}-${++seq}`);

  beforeAll(async () => {
    work = makeTempDir('pgbb-verify18-');
    mkdirSync(join(work, 'home'));
    env = clientEnv(join(work, 'home'));
    c = await PgCluster.start({ major: 18, dataChecksums: true });
    await c.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g; CHECKPOINT`);
  });

  afterAll(async () => {
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('plain, -X stream and -X fetch: pg_verifybackup DIR exits 0; only pg files in DIR', async () => {
    for (const x of ['stream', 'fetch']) {
      const d = fresh(`plain-${x}`);
      const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', `-X${x}`], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(d)).not.toContain(MARKER_NAME);
      expect(await statusOf(d)).toMatchObject({ code: 0, state: { state: 'complete' } });
      const v = await runTool(PG18_VERIFY, [d], { env });
      expect(v.status, v.stderr).toBe(0);
      expect(v.stdout.toString()).toMatch(/backup successfully verified/);
      rmSync(d, { recursive: true, force: true });
    }
  });

  const tarCases: [string, string[], string[]][] = [
    ['uncompressed', [], ['backup_manifest', 'base.tar', 'pg_wal.tar']],
    ['gzip', ['-z'], ['backup_manifest', 'base.tar.gz', 'pg_wal.tar.gz']],
    ['lz4', ['--compress=client-lz4'], ['backup_manifest', 'base.tar.lz4', 'pg_wal.tar']],
    ['zstd', ['--compress=client-zstd'], ['backup_manifest', 'base.tar.zst', 'pg_wal.tar']],
  ];
  for (const [name, args, names] of tarCases) {
    it(`tar, ${name}: pg_verifybackup -n DIR exits 0; the listing is pg's`, async () => {
      const d = fresh(`tar-${name}`);
      const r = await runBasebackup([...socketArgs(c), '-D', d, '-Ft', '-cfast', ...args], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(d).sort()).toEqual(names);
      expect(existsSync(markerOf(d))).toBe(true);
      const v = await runTool(PG18_VERIFY, ['-n', d], { env });
      expect(v.status, v.stderr).toBe(0);
      rmSync(d, { recursive: true, force: true });
    });
  }
});
