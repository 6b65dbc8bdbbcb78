/**
 * Backups beyond timeline 1, against PostgreSQL 15 and 18: a -R backup starts as a standby that
 * replicates from its source; once promoted (timeline 2) it is itself backed up, plain with -X stream
 * (the client fetches the history file with TIMELINE_HISTORY) and tar with -X fetch (the server sends
 * it), and both restore on timeline 2 with the data written after the promotion.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, extractTar, runBasebackup, runTool, socketArgs, tableDigests, type TableRef } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster, systemTool, type Major } from '../support/pg-cluster.js';

const MAJORS_HERE: Major[] = [15, 18];
const TABLES: TableRef[] = [{ database: 'postgres', table: 't_tl' }];
const oracle15 = systemTool('pg_basebackup', 15);
let work: string;
let env: NodeJS.ProcessEnv;
let seq = 0;
const fresh = (what: string) => join(work, `${what}-${++seq}`);

beforeAll(() => {
  work = makeTempDir('pgbb-tl-');
  mkdirSync(join(work, 'home'));
  env = clientEnv(join(work, 'home'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function timeline(c: PgCluster): Promise<number> {
  const [row] = await c.query<{ t: number }>('SELECT timeline_id AS t FROM pg_control_checkpoint()');
  return row?.t ?? 0;
}

describe.each(MAJORS_HERE)('PostgreSQL %i: timelines', (major) => {
  let primary: PgCluster;
  let standby: PgCluster;
  let standbyDir: string;
  let digests: Record<string, string>;

  beforeAll(async () => {
    primary = await PgCluster.start({ major });
    await primary.query(`CREATE TABLE t_tl (id int PRIMARY KEY, v text);
      INSERT INTO t_tl SELECT i, md5(i::text) FROM generate_series(1, 20000) i`);
    await primary.query('CHECKPOINT');
  });

  afterAll(async () => {
    await standby?.destroy();
    await primary?.destroy();
    if (standbyDir) rmSync(standbyDir, { recursive: true, force: true });
  });

  it('-R: the restored backup is a standby that replicates from its source', async () => {
    standbyDir = fresh('standby');
    const r = await runBasebackup([...socketArgs(primary), '-D', standbyDir, '-cfast', '-R'], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(standbyDir, 'standby.signal')).length).toBe(0);
    expect(readFileSync(join(standbyDir, 'postgresql.auto.conf'), 'utf8')).toMatch(/^primary_conninfo = '.*host=.*'$/m);
    standby = await PgCluster.startOnDataDir(major, standbyDir);
    const [rec] = await standby.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    expect(rec?.r).toBe(true);
    await primary.query("INSERT INTO t_tl VALUES (0, 'written on the primary after the backup')");
    await waitFor('replication', async () => (await standby.query('SELECT 1 FROM t_tl WHERE id = 0')).length === 1);
  });

  it('promoted (timeline 2), backed up plain -X stream and tar -X fetch: both restore on timeline 2', async () => {
    expect(standby, 'needs the previous test').toBeDefined();
    await standby.query('SELECT pg_promote(true, 60)');
    await standby.query("INSERT INTO t_tl SELECT i, 'after promotion' FROM generate_series(20001, 21000) i");
    await standby.query('CHECKPOINT');
    expect(await timeline(standby)).toBe(2);
    digests = await tableDigests(standby, TABLES);

    const plain = fresh('plain');
    const tar = fresh('tar');
    const tarRestore = fresh('tar-restore');
    try {
      const p = await runBasebackup([...socketArgs(standby), '-D', plain, '-cfast', '-Xstream'], { env });
      expect(p.status, p.stderr).toBe(0);
      expect(existsSync(join(plain, 'pg_wal', '00000002.history'))).toBe(true);
      expect(readdirSync(join(plain, 'pg_wal')).filter((n) => /^[0-9A-F]{24}$/.test(n)).every((n) => n.startsWith('00000002'))).toBe(true);
      const t = await runBasebackup([...socketArgs(standby), '-D', tar, '-Ft', '-cfast', '-Xfetch'], { env });
      expect(t.status, t.stderr).toBe(0);
      mkdirSync(tarRestore);
      await extractTar(join(tar, 'base.tar'), tarRestore);
      expect(existsSync(join(tarRestore, 'pg_wal', '00000002.history'))).toBe(true);
      for (const d of [plain, tarRestore]) {
        const r = await PgCluster.startOnDataDir(major, d);
        try {
          expect(await timeline(r)).toBe(2);
          expect(await tableDigests(r, TABLES)).toEqual(digests);
        } finally {
          await r.destroy();
        }
      }
    } finally {
      for (const d of [plain, tar, tarRestore]) rmSync(d, { recursive: true, force: true });
    }
  });

  it.runIf(major === 15 && oracle15 !== undefined)('plain -X stream on timeline 2: pg_wal holds what pg_basebackup 15 writes there', async () => {
    const ours = fresh('ours');
    const theirs = fresh('theirs');
    const shape = (d: string) =>
      readdirSync(join(d, 'pg_wal'), { recursive: true }).map(String).map((n) => n.replace(/[0-9A-F]{24}/, 'SEGMENT')).sort();
    try {
      const r = await runBasebackup([...socketArgs(standby), '-D', ours, '-cfast', '-Xstream'], { env });
      const o = await runTool(oracle15 as string, [...socketArgs(standby), '-D', theirs, '-cfast', '-Xstream'], { env });
      expect([r.status, o.status], r.stderr + o.stderr).toEqual([0, 0]);
      expect(shape(ours)).toEqual(shape(theirs));
      expect(readFileSync(join(ours, 'pg_wal', '00000002.history')).equals(readFileSync(join(theirs, 'pg_wal', '00000002.history')))).toBe(true);
    } finally {
      rmSync(ours, { recursive: true, force: true });
      rmSync(theirs, { recursive: true, force: true });
    }
  });
});
