/**
 * -X stream on PostgreSQL 15 and 18 under load and under failure:
 * - backups taken while a TPC-B workload runs (plain, tar, and `-Ft -D -` piped through `tar x`) restore
 *   to a consistent server on which the TPC-B invariant holds;
 * - status updates arrive every -s seconds while the client is busy compressing, with a flush position
 *   only when a slot is used;
 * - the WAL walsender terminated mid-backup: pg's messages, exit 1, directory removed, slot and
 *   walsenders gone; a -C slot is dropped again when the backup fails.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, clientEnv, extractTar, runBasebackup, runTool, socketArgs, type RunResult } from '../support/backup-helpers.js';
import { makeTempDir, MAJORS, PgCluster, systemTool, type Major } from '../support/pg-cluster.js';
import { checkTpcbInvariant, createTpcb, sleep, slotNames, TpcbWorkload, waitFor } from './wal-support.js';

const TESTED: Major[] = MAJORS;
const clusters = new Map<Major, PgCluster>();
let work: string;
let env: NodeJS.ProcessEnv;
let seq = 0;

beforeAll(async () => {
  work = makeTempDir('pgbb-walload-');
  mkdirSync(join(work, 'home'));
  env = clientEnv(join(work, 'home'));
  await Promise.all(
    TESTED.map(async (major) => {
      const c = await PgCluster.start({ major, conf: { autovacuum: 'off', max_wal_size: '1GB' } });
      clusters.set(major, c);
      await createTpcb(c);
    }),
  );
});

afterAll(async () => {
  await Promise.all([...clusters.values()].map((c) => c.destroy()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Run `backup` while the workload commits transactions before, during and after it. */
async function underLoad<T>(c: PgCluster, backup: () => Promise<T>): Promise<T> {
  const w = new TpcbWorkload(c, 4);
  await w.start();
  try {
    await w.progress(100);
    const out = await backup();
    await w.progress(50);
    return out;
  } finally {
    await w.stop();
  }
}

/** Start a server on a restored data directory: it must reach consistency and keep the invariant. */
async function checkRestored(major: Major, dataDir: string): Promise<void> {
  const r = await PgCluster.startOnDataDir(major, dataDir);
  try {
    const [row] = await r.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    expect(row?.rec).toBe(false);
    expect(await checkTpcbInvariant(r)).toBeGreaterThan(0);
  } finally {
    await r.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The walsender streaming WAL to a pg_basebackup: in START_REPLICATION ('catchup' or 'streaming'), not
 * the one sending the base backup ('backup'; 'startup' before its command, as either one is).
 */
async function walSender(c: PgCluster): Promise<{ pid: number } | undefined> {
  const rows = await c.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_replication WHERE application_name = 'pg_basebackup' AND state IN ('catchup', 'streaming')",
  );
  return rows[0];
}

async function noBasebackupSenders(c: PgCluster): Promise<true | undefined> {
  const rows = await c.query("SELECT 1 FROM pg_stat_replication WHERE application_name = 'pg_basebackup'");
  return rows.length === 0 ? true : undefined;
}

/** Start a slow backup, terminate its WAL walsender once it streams, and return the run's result. */
async function killWalSenderDuring(c: PgCluster, args: string[]): Promise<RunResult> {
  const run = runBasebackup([...socketArgs(c), '-cfast', '-r', '1M', ...args], { env });
  const sender = await waitFor('the WAL walsender', () => walSender(c));
  await c.query(`SELECT pg_terminate_backend(${sender.pid})`);
  return run;
}

describe.each(TESTED)('PostgreSQL %i', (major) => {
  const c = () => clusters.get(major) as PgCluster;

  describe('backups under a TPC-B workload restore consistent, invariant intact', () => {
    it('plain', async () => {
      const d = join(work, `plain-${++seq}`);
      const r = await underLoad(c(), () => runBasebackup([...socketArgs(c()), '-D', d, '-Xstream', '-cfast', '-r', '16M'], { env }));
      expect(r.status, r.stderr).toBe(0);
      await checkRestored(major, d);
    });

    it('tar (base.tar + pg_wal.tar extracted by GNU tar)', async () => {
      const d = join(work, `tar-${++seq}`);
      const r = await underLoad(c(), () => runBasebackup([...socketArgs(c()), '-D', d, '-Ft', '-Xstream', '-cfast', '-r', '16M'], { env }));
      expect(r.status, r.stderr).toBe(0);
      const target = join(work, `tar-restore-${seq}`);
      mkdirSync(target);
      await extractTar(join(d, 'base.tar'), target);
      await extractTar(join(d, 'pg_wal.tar'), join(target, 'pg_wal'));
      rmSync(d, { recursive: true, force: true });
      await checkRestored(major, target);
    });

    it('-Ft -D - -X stream | tar x: one self-contained archive, no spool left', async () => {
      const target = join(work, `stdout-restore-${++seq}`);
      const tmp = join(work, `spool-parent-${seq}`);
      mkdirSync(target);
      mkdirSync(tmp);
      const cmd = `"${process.execPath}" "${CLI}" ${socketArgs(c()).join(' ')} -D - -Ft -Xstream -cfast -r 16M | tar -xf - -C "${target}"`;
      const r = await underLoad(c(), () => runTool('bash', ['-o', 'pipefail', '-c', cmd], { env: { ...env, TMPDIR: tmp } }));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      const list = await runTool('find', [tmp, '-mindepth', '1']);
      expect(list.stdout.toString()).toBe(''); // the spool lived under TMPDIR and is gone
      // pg's own verifier (15 here, when installed) accepts the extracted archive, WAL included.
      const verify = major === 15 ? systemTool('pg_verifybackup', 15) : undefined;
      if (verify !== undefined) {
        const v = await runTool(verify, [target], { env });
        expect(v.status, v.stderr).toBe(0);
        expect(v.stdout.toString()).toContain('backup successfully verified');
      }
      await checkRestored(major, target);
    });
  });

  // gzip level 9 keeps the client busy; -r keeps the run at least ~4 s long on a faster machine.
  it('status updates every second while the client is busy compressing; flush position with the slot', async () => {
    await c().query(`CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 8) AS p FROM generate_series(1, 300000) g; CHECKPOINT`);
    const d = join(work, `status-${++seq}`);
    const monitor = new pg.Client(c().pgConfig());
    await monitor.connect();
    const replies = new Set<number>();
    const polls: number[] = []; // when each sample was answered
    let flushSeen = false;
    let done = false;
    const poll = (async () => {
      while (!done) {
        const res = await monitor.query<{ reply_ms: string | null; flush_lsn: string | null }>(
          "SELECT (extract(epoch FROM reply_time) * 1000)::bigint::text AS reply_ms, flush_lsn::text FROM pg_stat_replication WHERE application_name = 'pg_basebackup' AND state IN ('catchup', 'streaming')",
        );
        polls.push(Date.now());
        for (const row of res.rows) {
          if (row.reply_ms !== null) replies.add(Number(row.reply_ms));
          if (row.flush_lsn !== null) flushSeen = true;
        }
        await sleep(100);
      }
    })();
    try {
      const r = await runBasebackup([...socketArgs(c()), '-D', d, '-Ft', '-Z', 'gzip:9', '-r', '30M', '-Xstream', '-cfast', '-s', '1'], { env });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      done = true;
      await poll;
      await monitor.end();
      await c().query('DROP TABLE filler; CHECKPOINT');
      rmSync(d, { recursive: true, force: true });
    }
    // Replies are stamped with the client's clock (this machine's).  A gap between two replies counts
    // only where the samples were dense enough to have seen a reply in between (a sampler starved by
    // the load proves nothing either way); at least three such gaps are needed.
    const times = [...replies].sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => ({ from: times[i] as number, to: t }));
    const observed = gaps.filter(({ from, to }) => {
      const inside = [from, ...polls.filter((p) => p > from && p < to), to];
      return inside.slice(1).every((p, i) => p - (inside[i] as number) < 500);
    });
    const report = JSON.stringify({ times, polls: polls.length });
    expect(observed.length, report).toBeGreaterThanOrEqual(3);
    for (const g of observed) expect(g.to - g.from, report).toBeLessThanOrEqual(1500);
    expect(flushSeen).toBe(true);
  });

  it('--no-slot: status updates carry no flush position', async () => {
    const d = join(work, `noslot-${++seq}`);
    const run = runBasebackup([...socketArgs(c()), '-D', d, '-Xstream', '--no-slot', '-cfast', '-r', '8M', '-s', '1'], { env });
    const seen = await waitFor('a reply from the receiver', async () => {
      const rows = await c().query<{ write_lsn: string | null; flush_lsn: string | null }>(
        "SELECT write_lsn::text, flush_lsn::text FROM pg_stat_replication WHERE application_name = 'pg_basebackup' AND state IN ('catchup', 'streaming') AND reply_time IS NOT NULL",
      );
      return rows[0];
    });
    expect(seen.write_lsn).not.toBeNull();
    expect(seen.flush_lsn).toBeNull();
    expect(await slotNames(c())).toEqual([]);
    const r = await run;
    expect(r.status, r.stderr).toBe(0);
    rmSync(d, { recursive: true, force: true });
  });

  it('WAL walsender terminated mid-backup: pg\'s messages, exit 1, directory removed, nothing left behind', async () => {
    const d = join(work, `killed-${++seq}`);
    const r = await killWalSenderDuring(c(), ['-D', d, '-Xstream']);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      'pg_basebackup: error: unexpected termination of replication stream: FATAL:  terminating connection due to administrator command',
      'pg_basebackup: error: background process terminated unexpectedly',
      `pg_basebackup: removing data directory "${d}"`,
    ]);
    expect((await runTool('ls', [d])).status).not.toBe(0);
    await waitFor('walsenders to exit', () => noBasebackupSenders(c()));
    await waitFor('the temporary slot to go', async () => ((await slotNames(c())).length === 0 ? true : undefined));
  });

  it('-C -S: the slot this run created is dropped again when the backup fails (either connection)', async () => {
    const d1 = join(work, `cslot-${++seq}`);
    const r1 = await killWalSenderDuring(c(), ['-D', d1, '-Xstream', '-C', '-S', 'made_here']);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toContain('pg_basebackup: error: background process terminated unexpectedly');
    expect(r1.stderr).toContain('pg_basebackup: dropped replication slot "made_here"');
    expect(await slotNames(c())).toEqual([]);

    // The backup's own connection dies instead.
    const d2 = join(work, `cslot-${++seq}`);
    const run = runBasebackup([...socketArgs(c()), '-D', d2, '-cfast', '-r', '1M', '-Xstream', '-C', '-S', 'made_here'], { env });
    await waitFor('the WAL walsender', () => walSender(c()));
    await c().query("SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'pg_basebackup' AND state = 'backup'");
    const r2 = await run;
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain('terminating connection due to administrator command');
    expect(r2.stderr).toContain('pg_basebackup: dropped replication slot "made_here"');
    expect(await slotNames(c())).toEqual([]);
    await waitFor('walsenders to exit', () => noBasebackupSenders(c()));

    // An existing slot (-S without -C) is never dropped.
    await c().query("SELECT pg_create_physical_replication_slot('kept')");
    const d3 = join(work, `cslot-${++seq}`);
    const r3 = await killWalSenderDuring(c(), ['-D', d3, '-Xstream', '-S', 'kept']);
    expect(r3.status).toBe(1);
    expect(r3.stderr).not.toContain('dropped replication slot');
    expect(await slotNames(c())).toEqual(['kept']);
    await c().query("SELECT pg_drop_replication_slot('kept')");
  });
});
