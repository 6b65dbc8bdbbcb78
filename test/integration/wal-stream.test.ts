/**
 * -X stream against real servers 15-18, while another session writes and switches segments: the
 * streamed segments are byte-identical to the server's own pg_wal files over the backup's WAL range,
 * complete ones are marked done, the temporary slot exists during the run and is gone after it, a
 * plain backup restores, and pg_wal.tar is a tar that GNU tar lists with the right sizes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, parseLsn, runBasebackup, runTool, socketArgs, type RunResult } from '../support/backup-helpers.js';
import { makeTempDir, MAJORS, PgCluster, type Major } from '../support/pg-cluster.js';
import { compareWithServerWal, SEG, sleep, slotNames } from './wal-support.js';

const clusters = new Map<Major, PgCluster>();
let work: string;
let env: NodeJS.ProcessEnv;
let seq = 0;

beforeAll(async () => {
  work = makeTempDir('pgbb-walstream-');
  mkdirSync(join(work, 'home'));
  env = clientEnv(join(work, 'home'));
  await Promise.all(
    MAJORS.map(async (major) => {
      const c = await PgCluster.start({ major, conf: { autovacuum: 'off' } });
      clusters.set(major, c);
      await c.query(`CREATE TABLE t (id int, payload text);
        INSERT INTO t SELECT i, repeat(md5(i::text), 20) FROM generate_series(1, 20000) i; CHECKPOINT`);
    }),
  );
});

afterAll(async () => {
  await Promise.all([...clusters.values()].map((c) => c.destroy()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * Run a backup (throttled, so that it lasts a while); once its WAL streaming has started (its
 * temporary slot is active), a session inserts and switches segments three times, then keeps
 * inserting until the backup ends.
 */
async function backupWhileSwitching(c: PgCluster, args: string[]): Promise<{ r: RunResult; slotSeen: string[] }> {
  const client = new pg.Client(c.pgConfig());
  await client.connect();
  let done = false;
  let inserted = 0;
  const slotSeen: string[] = [];
  const insert = async () => {
    await client.query(`INSERT INTO t SELECT i, md5(i::text) FROM generate_series(${inserted + 1}, ${inserted + 2000}) i`);
    inserted += 2000;
  };
  const churn = (async () => {
    while (!done && slotSeen.length === 0) {
      const slots = await client.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE temporary AND active');
      slotSeen.push(...slots.rows.map((x) => x.slot_name));
      if (slotSeen.length === 0) await sleep(20);
    }
    for (let i = 0; i < 3 && !done; i++) {
      await insert();
      await client.query('SELECT pg_switch_wal()');
    }
    while (!done) {
      await insert();
      await sleep(100);
    }
  })();
  try {
    const r = await runBasebackup([...socketArgs(c), '-cfast', '-v', '-r', '16M', ...args], { env });
    return { r, slotSeen };
  } finally {
    done = true;
    await churn;
    await client.end();
  }
}

function endLsnOf(r: RunResult): bigint {
  const m = /write-ahead log end point: (\S+)/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return parseLsn(m?.[1] ?? '');
}

function tempSlotOf(r: RunResult): string {
  const m = /created temporary replication slot "(pg_basebackup_\d+)"/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return m?.[1] ?? '';
}

describe.each(MAJORS)('-X stream from PostgreSQL %i', (major) => {
  it('plain: segments identical to the server\'s, complete ones done, temporary slot gone after; restores', async () => {
    const c = clusters.get(major) as PgCluster;
    const d = join(work, `plain-${major}-${++seq}`);
    const { r, slotSeen } = await backupWhileSwitching(c, ['-D', d, '-Fp', '-Xstream']);
    expect(r.status, r.stderr).toBe(0);
    const slot = tempSlotOf(r);
    expect(slotSeen).toContain(slot);
    const end = endLsnOf(r);
    const walDir = join(d, 'pg_wal');
    const names = readdirSync(walDir).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    expect(names.length).toBeGreaterThanOrEqual(3); // the writer switched segments during the run
    const segs = new Map(names.map((n) => [n, readFileSync(join(walDir, n))]));
    const { complete } = compareWithServerWal(c, segs, end);
    expect(complete).toBeGreaterThanOrEqual(2);
    // Segments are closed (and marked done) at their end; only the last one may be incomplete.
    const done = readdirSync(join(walDir, 'archive_status')).sort();
    expect([names.slice(0, -1), names].map((l) => l.map((n) => `${n}.done`))).toContainEqual(done);
    expect(await slotNames(c)).not.toContain(slot);

    const restored = await PgCluster.startOnDataDir(major, d);
    try {
      const [row] = await restored.query<{ rec: boolean; n: string }>('SELECT pg_is_in_recovery() AS rec, count(*)::text AS n FROM t');
      expect(row?.rec).toBe(false);
      expect(Number(row?.n)).toBeGreaterThanOrEqual(20000);
    } finally {
      await restored.destroy();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('tar: pg_wal.tar lists with GNU tar (full-size segments, done marks), segments identical to the server\'s', async () => {
    const c = clusters.get(major) as PgCluster;
    const d = join(work, `tar-${major}-${++seq}`);
    const { r } = await backupWhileSwitching(c, ['-D', d, '-Ft', '-Xs']);
    expect(r.status, r.stderr).toBe(0);
    const end = endLsnOf(r);
    const tarFile = join(d, 'pg_wal.tar');
    const list = await runTool('tar', ['-tvf', tarFile, '--numeric-owner']);
    expect(list.status, list.stderr).toBe(0);
    const rows = list.stdout.toString().trim().split('\n').map((l) => l.split(/\s+/));
    const segRows = rows.filter((x) => /^[0-9A-F]{24}$/.test(x[5] ?? ''));
    const doneRows = rows.filter((x) => /^archive_status\/[0-9A-F]{24}\.done$/.test(x[5] ?? ''));
    expect(segRows.length + doneRows.length).toBe(rows.length);
    expect(segRows.length).toBeGreaterThanOrEqual(3);
    for (const x of [...segRows, ...doneRows]) expect([x[0], x[1]]).toEqual(['-rw-------', '0/0']);
    for (const x of segRows) expect(Number(x[2])).toBe(SEG);
    for (const x of doneRows) expect(Number(x[2])).toBe(0);
    // Members: header + data (segments need no padding) + the two zero blocks.
    expect(readFileSync(tarFile).length).toBe(rows.length * 512 + segRows.length * SEG + 1024);
    const segs = new Map<string, Buffer>();
    for (const x of segRows) {
      const name = x[5] as string;
      const out = await runTool('tar', ['-xOf', tarFile, name]);
      segs.set(name, out.stdout);
    }
    const { complete } = compareWithServerWal(c, segs, end);
    expect(complete).toBeGreaterThanOrEqual(2);
    const names = [...segs.keys()];
    expect([names.slice(0, -1), names].map((l) => l.map((n) => `archive_status/${n}.done`))).toContainEqual(doneRows.map((x) => x[5]));
    expect(existsSync(join(d, 'base.tar'))).toBe(true);
    rmSync(d, { recursive: true, force: true });
  });
});
