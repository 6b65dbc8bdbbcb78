/**
 * The README's first command (`npm install && npm run demo`): start a throwaway PostgreSQL from the
 * embedded binaries, write data (with a second tablespace), take a plain backup with our
 * pg_basebackup over TCP + SCRAM, start a server on the backup, and compare every table with the source.
 * Needs nothing but Node.js 20+ (no system PostgreSQL).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chownForServer, makeTempDir, PgCluster, REPO_ROOT, type Major } from '../test/support/pg-cluster.js';

const major = Number(process.env.DEMO_MAJOR ?? '18') as Major;
const keep = process.argv.includes('--keep');

function step(msg: string): void {
  process.stdout.write(`\n==> ${msg}\n`);
}

const TABLES = ['accounts', 'events', 'notes'];

async function tableDigests(c: PgCluster): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of TABLES) {
    const rows = await c.query<{ n: string; d: string }>(`SELECT count(*)::text AS n, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS d FROM ${t} x`);
    out[t] = `${rows[0]!.n} rows, md5 ${rows[0]!.d}`;
  }
  return out;
}

async function main(): Promise<void> {
  const work = makeTempDir('pgbb-demo-');
  const spcDir = join(work, 'tblspc');
  const backupDir = join(work, 'backup');
  const mappedSpc = join(work, 'backup-tblspc');
  mkdirSync(spcDir);
  chownForServer(spcDir);

  step(`starting a throwaway PostgreSQL ${major} (embedded binaries)`);
  const src = await PgCluster.start({ major, auth: 'scram-sha-256' });
  let restored: PgCluster | undefined;
  try {
    step('writing data: 3 tables, one of them in a second tablespace');
    await src.query(`CREATE TABLESPACE demo_spc LOCATION '${spcDir}'`);
    await src.query(`CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric)`);
    await src.query(`INSERT INTO accounts SELECT g, 'owner ' || g, (g::bigint * 7919) % 100000 / 100.0 FROM generate_series(1, 200000) g`);
    await src.query(`CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz, payload jsonb) TABLESPACE demo_spc`);
    await src.query(`INSERT INTO events (at, payload) SELECT timestamptz '2026-01-01' + g * interval '1 minute', jsonb_build_object('n', g, 'sq', g::bigint * g) FROM generate_series(1, 100000) g`);
    await src.query(`CREATE TABLE notes (id int, body text)`);
    await src.query(`INSERT INTO notes SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 20000) g`);
    const before = await tableDigests(src);

    step('pg_basebackup -h 127.0.0.1 (SCRAM) -Fp -X stream -T <tablespace>=<new place> -P -v');
    const args = [
      join(REPO_ROOT, 'dist', 'bin', 'pg_basebackup.mjs'),
      '-h', '127.0.0.1', '-p', String(src.port), '-U', 'postgres',
      '-D', backupDir, '-Fp', '-Xstream', '-cfast', '-P', '-v',
      '-T', `${spcDir}=${mappedSpc}`,
    ];
    const t0 = Date.now();
    const res = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PGPASSWORD: src.password } });
    if (res.status !== 0) throw new Error(`pg_basebackup exited with ${res.status}`);
    process.stdout.write(`backup took ${((Date.now() - t0) / 1000).toFixed(2)} s\n`);

    step('starting a server on the backup and comparing every table with the source');
    restored = await PgCluster.startOnDataDir(major, backupDir, { extraOwned: [mappedSpc] });
    const after = await tableDigests(restored);
    let same = true;
    for (const t of TABLES) {
      const ok = before[t] === after[t];
      same &&= ok;
      process.stdout.write(`  ${ok ? 'same' : 'DIFFERENT'}  ${t}: ${after[t]}\n`);
    }
    if (!same) throw new Error('restored data differs from the source');
    step('the backup restores with identical data');
  } finally {
    await restored?.stop();
    await src.destroy();
    if (keep) process.stdout.write(`kept ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
