/**
 * The wave-2 tools in the benchmark (run by `npm run bench` after the pg_basebackup comparison, or alone:
 * `npx tsx scripts/bench-tools.ts [--rounds N] [--scale MB] [--pgbench-scale N]`).  Prints measured figures; asserts nothing.
 *
 * On one embedded PostgreSQL 18 server with summarize_wal = on and ~`--scale` MB of data:
 * - `pg_basebackup --verify` against the same backup without it (plain -X stream with fsync, and tar),
 *   interleaved A/B: the cost of verifying while streaming (target: <= 1.05x wall);
 * - our pg_verifybackup against PostgreSQL 18's (/opt/pg18, when built) on a plain backup, WAL included;
 * - our pg_combinebackup against PostgreSQL 18's on a full + incremental chain (10% of the rows updated
 *   in between), --copy, with fsync and with -N (no sync); peak RSS at two data sizes for memory staying flat.
 * Per run: wall time, user+sys CPU and peak RSS of the client process from /usr/bin/time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, PgCluster, REPO_ROOT } from '../test/support/pg-cluster.js';

const TIME = '/usr/bin/time';
const PG18 = '/opt/pg18/bin';
const dist = (p: string) => join(REPO_ROOT, 'dist', p);

interface Run {
  wall: number;
  cpu: number;
  rssMB: number;
}

function timed(cmd: string, args: string[], scratch: string): Run {
  const stat = join(scratch, 'time.txt');
  const r = spawnSync(TIME, ['-f', '%e %U %S %M', '-o', stat, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGAPPNAME: 'bench' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  const [wall, user, sys, rss] = readFileSync(stat, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number, number];
  return { wall, cpu: user + sys, rssMB: rss / 1024 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const f2 = (n: number) => n.toFixed(2);
const range = (xs: number[]) => `${f2(median(xs))} (${f2(Math.min(...xs))}-${f2(Math.max(...xs))})`;

/** A/B interleaved: `a` and `b` each return a fresh run (and clean up after themselves). */
function ab(name: string, rounds: number, a: () => Run, b: () => Run, labels: [string, string]): void {
  a();
  b(); // warm-up
  const ra: Run[] = [];
  const rb: Run[] = [];
  for (let i = 0; i < rounds; i++) {
    ra.push(a());
    rb.push(b());
  }
  const ratios = ra.map((x, i) => x.wall / (rb[i] as Run).wall);
  console.log(`\n### ${name} (${rounds} interleaved pairs)`);
  console.log(`| | wall s median (min-max) | cpu s | peak RSS MB |`);
  console.log(`|---|---|---|---|`);
  console.log(`| ${labels[0]} | ${range(ra.map((r) => r.wall))} | ${f2(median(ra.map((r) => r.cpu)))} | ${f2(median(ra.map((r) => r.rssMB)))} |`);
  console.log(`| ${labels[1]} | ${range(rb.map((r) => r.wall))} | ${f2(median(rb.map((r) => r.cpu)))} | ${f2(median(rb.map((r) => r.rssMB)))} |`);
  console.log(`wall ratio ${labels[0]}/${labels[1]}: median ${f2(median(ratios))} (min ${f2(Math.min(...ratios))}, max ${f2(Math.max(...ratios))})`);
}

async function load(c: PgCluster, mb: number): Promise<void> {
  // ~130 bytes a row on disk
  const rows = Math.round((mb * 1024 * 1024) / 130);
  await c.query(`CREATE TABLE IF NOT EXISTS bench(id bigint, v text);
    INSERT INTO bench SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(coalesce((SELECT max(id) FROM bench), 0) + 1, coalesce((SELECT max(id) FROM bench), 0) + ${rows}) g;
    `);
  await c.query('VACUUM ANALYZE bench');
  await c.query('CHECKPOINT');
}

export async function runToolsBench(o: { rounds: number; scaleMB: number; pgbenchScale?: number }): Promise<void> {
  const pgbenchScale = o.pgbenchScale ?? 100;
  if (!existsSync(TIME)) {
    console.log('\n## wave-2 tools: skipped (no /usr/bin/time)');
    return;
  }
  const have18 = existsSync(join(PG18, 'pg_combinebackup')) && existsSync(join(PG18, 'pg_verifybackup'));
  const work = makeTempDir('pgbb-bench-tools-');
  const c = await PgCluster.start({ major: 18, conf: { summarize_wal: 'on', autovacuum: 'off' } });
  try {
    await load(c, o.scaleMB);
    const [{ size } = { size: '?' }] = await c.query<{ size: string }>("SELECT pg_size_pretty(pg_database_size('postgres')) AS size");
    console.log(`\n## wave-2 tools on PostgreSQL 18 (${size} database, ${cpus().length} CPUs, load ${loadavg().map(f2).join(' ')})`);
    const conn = ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres'];
    const node = process.execPath;
    let n = 0;
    const backup = (extra: string[]) => (): Run => {
      const d = join(work, `b${++n}`);
      const r = timed(node, [dist('bin/pg_basebackup.mjs'), ...conn, '-D', d, '-cfast', ...extra], work);
      rmSync(d, { recursive: true, force: true });
      rmSync(`${d}.pg-basebackup-status.json`, { force: true });
      return r;
    };
    ab('pg_basebackup --verify, plain -X stream with fsync', o.rounds, backup(['-Xstream', '--verify']), backup(['-Xstream']), ['--verify', 'without']);
    ab('pg_basebackup --verify, tar -X fetch with fsync', o.rounds, backup(['-Ft', '-Xfetch', '--verify']), backup(['-Ft', '-Xfetch']), ['--verify', 'without']);

    if (!have18) {
      console.log('\n(pg_verifybackup and pg_combinebackup comparisons skipped: PostgreSQL 18 tools not in /opt/pg18)');
      return;
    }
    const full = join(work, 'full');
    spawnSync(node, [dist('bin/pg_basebackup.mjs'), ...conn, '-D', full, '-cfast'], { stdio: 'inherit' });
    ab('pg_verifybackup (plain, WAL parsed): ours vs PostgreSQL 18.6', o.rounds,
      () => timed(node, [dist('bin/pg_verifybackup.mjs'), full], work), () => timed(join(PG18, 'pg_verifybackup'), [full], work), ['ours', 'pg 18']);

    await c.query('UPDATE bench SET v = v WHERE id % 10 = 0');
    await c.query('CHECKPOINT');
    const incr = join(work, 'incr');
    spawnSync(node, [dist('bin/pg_basebackup.mjs'), ...conn, '-D', incr, '-cfast', '-i', join(full, 'backup_manifest')], { stdio: 'inherit' });
    const combine = (cmd: string, pre: string[]) => (): Run => {
      const out = join(work, `c${++n}`);
      const r = timed(cmd, [...pre, '--copy', '-o', out, full, incr], work);
      rmSync(out, { recursive: true, force: true });
      rmSync(`${out}.pg-basebackup-status.json`, { force: true });
      return r;
    };
    ab('pg_combinebackup --copy (full + incremental), with fsync: ours vs PostgreSQL 18.6', o.rounds,
      combine(node, [dist('bin/pg_combinebackup.mjs')]), combine(join(PG18, 'pg_combinebackup'), []), ['ours', 'pg 18']);
    ab('pg_combinebackup --copy -N (full + incremental), no sync: ours vs PostgreSQL 18.6', o.rounds,
      combine(node, [dist('bin/pg_combinebackup.mjs'), '-N']), combine(join(PG18, 'pg_combinebackup'), ['-N']), ['ours', 'pg 18']);

    // Memory as data grows: peak RSS of one -N combine each, on this chain and on one with twice the data.
    const rssOnce = (f: string, i: string): [number, number] =>
      [[node, dist('bin/pg_combinebackup.mjs')], [join(PG18, 'pg_combinebackup')]].map(([cmd, ...pre]) => {
        const out = join(work, `c${++n}`);
        const r = timed(cmd as string, [...pre, '--copy', '-N', '-o', out, f, i], work);
        rmSync(out, { recursive: true, force: true });
        rmSync(`${out}.pg-basebackup-status.json`, { force: true });
        return r.rssMB;
      }) as [number, number];
    const dbSize = async () => (await c.query<{ size: string }>("SELECT pg_size_pretty(pg_database_size('postgres')) AS size"))[0]?.size ?? '?';
    const size1 = await dbSize();
    const [ours1, pg1] = rssOnce(full, incr);
    await load(c, o.scaleMB);
    await c.query('UPDATE bench SET v = v WHERE id % 10 = 0');
    await c.query('CHECKPOINT');
    const full2 = join(work, 'full2');
    const incr2 = join(work, 'incr2');
    spawnSync(node, [dist('bin/pg_basebackup.mjs'), ...conn, '-D', full2, '-cfast'], { stdio: 'inherit' });
    await c.query('UPDATE bench SET v = v WHERE id % 10 = 0');
    await c.query('CHECKPOINT');
    spawnSync(node, [dist('bin/pg_basebackup.mjs'), ...conn, '-D', incr2, '-cfast', '-i', join(full2, 'backup_manifest')], { stdio: 'inherit' });
    const size2 = await dbSize();
    const [ours2, pg1b] = rssOnce(full2, incr2);
    console.log(`\n### pg_combinebackup --copy -N peak RSS MB as data grows (${size1} -> ${size2} database)`);
    console.log(`| | ${size1} | ${size2} |`);
    console.log(`|---|---|---|`);
    console.log(`| ours | ${f2(ours1)} | ${f2(ours2)} |`);
    console.log(`| pg 18 | ${f2(pg1)} | ${f2(pg1b)} |`);

    // Issue 11's figure: a pgbench chain (scale `--pgbench-scale`, 100 = 1.5 GB), full + two incrementals
    // with a TPC-B load between them, combined whole.
    const pgbench = join(PG18, 'pgbench');
    if (pgbenchScale > 0 && existsSync(pgbench)) {
      const pgb = (args: string[]) => {
        const r = spawnSync(pgbench, ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres', ...args, 'postgres'], { stdio: ['ignore', 'ignore', 'pipe'] });
        if (r.status !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr.toString()}`);
      };
      const take = (name: string, parent?: string): string => {
        const d = join(work, name);
        const r = spawnSync(node, [dist('bin/pg_basebackup.mjs'), ...conn, '-D', d, '-cfast', ...(parent ? ['-i', join(parent, 'backup_manifest')] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
        if (r.status !== 0) throw new Error(`backup ${name} failed: ${r.stderr.toString()}`);
        return d;
      };
      for (const d of [full, incr, full2, incr2]) rmSync(d, { recursive: true, force: true });
      pgb(['-i', '-q', '-s', String(pgbenchScale)]);
      await c.query('CHECKPOINT');
      const p0 = take('pgb-full');
      pgb(['-T', '20', '-c', '2']);
      const p1 = take('pgb-incr1', p0);
      pgb(['-T', '20', '-c', '2']);
      const p2 = take('pgb-incr2', p1);
      const chain = (cmd: string, pre: string[]) => (): Run => {
        const out = join(work, `c${++n}`);
        const r = timed(cmd, [...pre, '--copy', '-o', out, p0, p1, p2], work);
        rmSync(out, { recursive: true, force: true });
        rmSync(`${out}.pg-basebackup-status.json`, { force: true });
        return r;
      };
      const label = `pgbench scale ${pgbenchScale} chain (full ${await dbSize()} + 2 incrementals)`;
      ab(`pg_combinebackup --copy, ${label}, with fsync: ours vs PostgreSQL 18.6`, o.rounds,
        chain(node, [dist('bin/pg_combinebackup.mjs')]), chain(join(PG18, 'pg_combinebackup'), []), ['ours', 'pg 18']);
      ab(`pg_combinebackup --copy -N, ${label}, no sync: ours vs PostgreSQL 18.6`, o.rounds,
        chain(node, [dist('bin/pg_combinebackup.mjs'), '-N']), chain(join(PG18, 'pg_combinebackup'), ['-N']), ['ours', 'pg 18']);
    }
  } finally {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('bench-tools.ts')) {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  runToolsBench({ rounds: arg('--rounds', 3), scaleMB: arg('--scale', 500), pgbenchScale: arg('--pgbench-scale', 100) }).catch((e: unknown) => {
    console.error(`bench-tools: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
