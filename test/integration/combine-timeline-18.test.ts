/**
 * Issue 11, pg_combinebackup on PostgreSQL 18 beyond one primary on timeline 1, with one primary and one
 * standby (made by our pg_basebackup -R, summarize_wal = on on both) for the file:
 * - a standby as the source: full and incremental both taken from the running standby, combined by ours,
 *   started, with the standby's data at the incremental's end;
 * - a timeline switch between full and incremental: full of the primary, the standby promoted (timeline 2),
 *   incremental of the promoted server; combined by ours (and byte for byte like PostgreSQL 18.6's
 *   pg_combinebackup and accepted by its pg_verifybackup when /opt/pg18 has them), started on timeline 2
 *   with the promoted server's data; also a three-backup chain full of the primary → incremental of the
 *   standby (timeline 1) → incremental of the promoted standby (timeline 2);
 * - the server refuses: an incremental of the standby with no restartpoint since its parent (pg's hint),
 *   a parent backup from the promoted server's timeline given to the old primary,
 *   summarize_wal = off (its message, exit 1, nothing left), and wal_level = minimal
 *   between full and incremental, in the flow of PostgreSQL's 007_wal_level_minimal.pl.
 * The tests run in order: the standby serves as a source first, then it is promoted; the primary is
 * restarted with wal_level = minimal last.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, parseBackupLabel, runBasebackup, runTool, socketArgs, tableDigests, type TableRef } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { havePg18Combine, normalizedManifest, runCombine, treeDifferences } from './combine-support.js';
import { waitFor } from './wal-support.js';

const PG18 = '/opt/pg18/bin';
const havePg18Basebackup = existsSync(join(PG18, 'pg_basebackup'));

const TABLES: TableRef[] = [
  { database: 'postgres', table: 'acc' },
  { database: 'postgres', table: 'hist' },
];

/** A pgbench-like round: updates spread over acc, inserts at the end of both tables. */
async function load(c: PgCluster, round: number): Promise<void> {
  await c.query(`UPDATE acc SET bal = bal + ${round} WHERE id % 7 = ${round % 7}`);
  await c.query(`INSERT INTO hist (delta) SELECT g * ${round} FROM generate_series(1, 2000) g`);
  await c.query(`INSERT INTO acc SELECT g, ${round}, repeat('r', 60) FROM generate_series(${round * 100000 + 1}, ${round * 100000 + 1000}) g`);
}

function hasIncrementalFile(dir: string): boolean {
  const walk = (d: string): boolean =>
    readdirSync(d, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.startsWith('INCREMENTAL.')));
  return walk(join(dir, 'base'));
}

const label = (dir: string) => parseBackupLabel(readFileSync(join(dir, 'backup_label'), 'utf8'));
const maskLsns = (s: string) => s.replace(/[0-9A-F]+\/[0-9A-F]+/g, 'X/X');

describe('pg_combinebackup on 18: a standby as the source, a timeline switch, refusals', () => {
  let primary: PgCluster;
  let standby: PgCluster | undefined;
  let work: string;
  let env: NodeJS.ProcessEnv;
  /** The promoted server's tables at the end of its incremental backups. */
  const TL_TABLES: TableRef[] = [...TABLES, { database: 'postgres', table: 'promoted' }, { database: 'postgres', table: 'shrink' }];
  let tlDigests: Record<string, string> | undefined;

  const backup = async (c: PgCluster, name: string, parent?: string): Promise<string> => {
    const d = join(work, name);
    const args = ['-D', d, '-c', 'fast', ...socketArgs(c)];
    if (parent !== undefined) args.push('-i', join(work, parent, 'backup_manifest'));
    const r = await runBasebackup(args, { env });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return d;
  };

  /** Wait until the standby has replayed everything the primary wrote so far. */
  const standbyCaughtUp = async (): Promise<void> => {
    const sb = standby as PgCluster;
    const [p] = await primary.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l');
    await waitFor('the standby to replay the primary\'s last change', async () => {
      const [s] = await sb.query<{ ok: boolean }>(`SELECT pg_last_wal_replay_lsn() >= '${p?.l}'::pg_lsn AS ok`);
      return s?.ok === true ? true : undefined;
    });
  };

  const combineAndStart = async (chain: string[], out: string, check: (restored: PgCluster) => Promise<void>): Promise<void> => {
    const r = await runCombine(['-o', out, ...chain], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, 'backup_label'), 'utf8')).not.toContain('INCREMENTAL');
    const restored = await PgCluster.startOnDataDir(18, out);
    try {
      await check(restored);
    } finally {
      await restored.stop();
      rmSync(out, { recursive: true, force: true });
    }
  };

  /** Ours and PostgreSQL 18's pg_combinebackup on the same chain: same files and backup_label, same manifest but for Last-Modified; pg_verifybackup accepts ours. */
  const compareWithPg = async (chain: string[], name: string): Promise<void> => {
    const ours = join(work, `${name}-ours`);
    const theirs = join(work, `${name}-pg`);
    const r = await runCombine(['-o', ours, ...chain], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const p = await runTool(join(PG18, 'pg_combinebackup'), ['-o', theirs, ...chain], { env });
    expect(p.stderr).toBe('');
    expect(p.status).toBe(0);
    expect(treeDifferences(ours, theirs, (rel) => rel === 'backup_manifest')).toEqual([]);
    expect(readFileSync(join(ours, 'backup_label')).equals(readFileSync(join(theirs, 'backup_label')))).toBe(true);
    expect(normalizedManifest(join(ours, 'backup_manifest'))).toBe(normalizedManifest(join(theirs, 'backup_manifest')));
    const vb = await runTool(join(PG18, 'pg_verifybackup'), [ours], { env });
    expect(vb.stderr).toBe('');
    expect(vb.status).toBe(0);
    rmSync(ours, { recursive: true, force: true });
    rmSync(theirs, { recursive: true, force: true });
  };

  beforeAll(async () => {
    work = makeTempDir('pgbb-combtl-');
    mkdirSync(join(work, 'home'));
    env = clientEnv(join(work, 'home'));
    primary = await PgCluster.start({ major: 18, conf: { summarize_wal: 'on' } });
    await primary.query("CREATE TABLE acc (id int PRIMARY KEY, bal int, filler text) WITH (fillfactor = 90)");
    await primary.query("INSERT INTO acc SELECT g, 0, repeat('a', 60) FROM generate_series(1, 20000) g");
    await primary.query('CREATE TABLE hist (id bigserial PRIMARY KEY, delta int)');
    // shrink: all-visible and frozen before any backup, so that the VACUUM truncating it on timeline 2 leaves
    // its lower pages alone and the incremental backup sends it as an INCREMENTAL file.
    await primary.query("CREATE TABLE shrink (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off)");
    await primary.query("INSERT INTO shrink SELECT g, repeat('s', 200) FROM generate_series(1, 20000) g");
    await waitFor('shrink all-visible', async () => {
      await primary.query('VACUUM (FREEZE) shrink');
      const [v] = await primary.query<{ ok: boolean }>("SELECT relallvisible = relpages AS ok FROM pg_class WHERE relname = 'shrink'");
      return v?.ok === true ? true : undefined;
    });
    await primary.query('CHECKPOINT');
    // The standby: our -R backup (its postgresql.conf has the primary's summarize_wal = on), started on it.
    const standbyDir = join(work, 'standby');
    const r = await runBasebackup(['-D', standbyDir, '-c', 'fast', '-R', ...socketArgs(primary)], { env });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    standby = await PgCluster.startOnDataDir(18, standbyDir);
    const sb = standby;
    const [s] = await sb.query<{ summarize_wal: string }>('SHOW summarize_wal');
    expect(s?.summarize_wal).toBe('on');
    await waitFor('the standby streaming', async () => {
      const rows = await primary.query<{ state: string }>('SELECT state FROM pg_stat_replication');
      return rows[0]?.state === 'streaming' ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    await standby?.destroy();
    await primary?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a standby as the source: full and incremental from the running standby, combined, started, the standby\'s data at the incremental\'s end', async () => {
    const sb = standby as PgCluster;
    await load(primary, 1);
    await primary.query('CHECKPOINT'); // a checkpoint record the standby can make a restartpoint at
    await standbyCaughtUp();
    const full = await backup(sb, 'sfull');
    expect(label(full).get('BACKUP FROM')).toBe('standby');

    await load(primary, 2);
    await primary.query('DELETE FROM hist WHERE id % 3 = 0');
    await primary.query('CHECKPOINT');
    await standbyCaughtUp();
    const digests = await tableDigests(sb, TABLES);
    const incr = await backup(sb, 'sincr', 'sfull');
    expect(label(incr).get('BACKUP FROM')).toBe('standby');
    expect(label(incr).get('INCREMENTAL FROM LSN')).toBe(label(full).get('START WAL LOCATION')?.split(' ')[0]);
    expect(hasIncrementalFile(incr)).toBe(true);

    await combineAndStart([full, incr], join(work, 'scombined'), async (restored) => {
      expect(await tableDigests(restored, TABLES)).toEqual(digests);
    });
  }, 180_000);

  it.skipIf(!havePg18Combine)('the standby chain: byte-identical to PostgreSQL 18\'s pg_combinebackup, pg_verifybackup accepts ours', async () => {
    await compareWithPg([join(work, 'sfull'), join(work, 'sincr')], 'scmp');
  }, 120_000);

  describe('a standby with no new restartpoint since the parent backup (no checkpoint on the primary)', () => {
    const dir = () => join(work, 'refused-standby');
    const args = () => ['-D', dir(), '-c', 'fast', '-i', join(work, 'sincr', 'backup_manifest'), ...socketArgs(standby as PgCluster)];
    let ours: string | undefined;

    it('refused with the server\'s message and hint, exit 1, the data directory removed', async () => {
      const r = await runBasebackup(args(), { env });
      ours = r.stderr;
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /^(WARNING: {2}aborting backup due to backend exiting before pg_backup_stop was called\n)?pg_basebackup: error: could not initiate base backup: ERROR: {2}manifest requires WAL from final timeline 1 ending at [0-9A-F]+\/[0-9A-F]+, but this backup starts at [0-9A-F]+\/[0-9A-F]+\nHINT: {2}This can happen for incremental backups on a standby if there was little activity since the previous backup\.\n/,
      );
      expect(r.stderr.endsWith(`pg_basebackup: removing data directory "${dir()}"\n`)).toBe(true);
      expect(existsSync(dir())).toBe(false);
    });

    it.skipIf(!havePg18Basebackup)('the same output as PostgreSQL 18\'s pg_basebackup', async () => {
      const p = await runTool(join(PG18, 'pg_basebackup'), args(), { env });
      expect(p.status).toBe(1);
      expect(p.stderr).toBe(ours);
    });
  });

  it('a timeline switch between full and incremental: full of the primary, the standby promoted, incremental of it; combined and started on timeline 2 with its data', async () => {
    const sb = standby as PgCluster;
    const full = await backup(primary, 'pfull');
    await load(primary, 3);
    await primary.query('CHECKPOINT');
    await standbyCaughtUp();
    // A middle backup for the three-backup chain below: an incremental of the standby on the primary's full.
    const mid = await backup(sb, 'pmid', 'pfull');
    expect(label(mid).get('BACKUP FROM')).toBe('standby');
    await load(primary, 5);
    await standbyCaughtUp();
    await sb.query('SELECT pg_promote(true, 60)');
    await load(sb, 4);
    await sb.query('CREATE TABLE promoted AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g');
    await sb.query('DELETE FROM shrink WHERE id > 8000');
    await sb.query('VACUUM shrink'); // truncated on the new timeline
    const incr = await backup(sb, 'pincr', 'pfull');
    const incr2 = await backup(sb, 'pincr2', 'pmid');
    tlDigests = await tableDigests(sb, TL_TABLES);
    expect(label(incr2).get('START TIMELINE')).toBe('2');
    expect(label(incr2).get('INCREMENTAL FROM TLI')).toBe('1');
    expect(label(incr2).get('INCREMENTAL FROM LSN')).toBe(label(mid).get('START WAL LOCATION')?.split(' ')[0]);
    expect(label(full).get('START TIMELINE')).toBe('1');
    expect(label(incr).get('START TIMELINE')).toBe('2');
    expect(label(incr).get('INCREMENTAL FROM TLI')).toBe('1');
    expect(label(incr).get('INCREMENTAL FROM LSN')).toBe(label(full).get('START WAL LOCATION')?.split(' ')[0]);
    expect(existsSync(join(incr, 'pg_wal', '00000002.history'))).toBe(true);
    expect(hasIncrementalFile(incr)).toBe(true);
    // shrink was truncated on timeline 2 below its length in the full backup: its INCREMENTAL file says so.
    const [row] = await sb.query<{ p: string }>("SELECT pg_relation_filepath('shrink') AS p");
    const rel = row?.p as string;
    const slash = rel.lastIndexOf('/');
    const header = readFileSync(join(incr, `${rel.slice(0, slash)}/INCREMENTAL.${rel.slice(slash + 1)}`));
    expect(header.readUInt32LE(8)).toBeLessThan(readFileSync(join(full, rel)).length / 8192);

    await combineAndStart([full, incr], join(work, 'pcombined'), async (restored) => {
      const [w] = await restored.query<{ f: string; rec: boolean }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f, pg_is_in_recovery() AS rec');
      expect(w?.rec).toBe(false);
      expect(w?.f.startsWith('00000002')).toBe(true);
      expect(await tableDigests(restored, TL_TABLES)).toEqual(tlDigests);
    });
  }, 180_000);

  it('a three-backup chain across nodes and timelines: full of the primary, incremental of the standby, incremental of the promoted standby; combined and started on timeline 2 with its data', async () => {
    expect(tlDigests, 'needs the previous test').toBeDefined();
    await combineAndStart([join(work, 'pfull'), join(work, 'pmid'), join(work, 'pincr2')], join(work, 'p3combined'), async (restored) => {
      const [w] = await restored.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f');
      expect(w?.f.startsWith('00000002')).toBe(true);
      expect(await tableDigests(restored, TL_TABLES)).toEqual(tlDigests);
    });
  }, 180_000);

  it.skipIf(!havePg18Combine)('the chains across the timeline switch (two and three backups): byte-identical to PostgreSQL 18\'s pg_combinebackup, pg_verifybackup accepts ours', async () => {
    await compareWithPg([join(work, 'pfull'), join(work, 'pincr')], 'pcmp');
    await compareWithPg([join(work, 'pfull'), join(work, 'pmid'), join(work, 'pincr2')], 'p3cmp');
  }, 120_000);

  describe('a parent from the promoted server (timeline 2) given to the old primary (timeline 1)', () => {
    const dir = () => join(work, 'refused-tl');
    const args = () => ['-D', dir(), '-c', 'fast', '-i', join(work, 'pincr', 'backup_manifest'), ...socketArgs(primary)];
    let ours: string | undefined;

    it('refused with the server\'s message, exit 1, the data directory removed', async () => {
      const r = await runBasebackup(args(), { env });
      ours = r.stderr;
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        // The server's notice (as libpq prints it) may come first: the backup it started is aborted.
        /^(WARNING: {2}aborting backup due to backend exiting before pg_backup_stop was called\n)?pg_basebackup: error: could not initiate base backup: ERROR: {2}timeline 2 found in manifest, but not in this server's history\n/,
      );
      expect(r.stderr.endsWith(`pg_basebackup: removing data directory "${dir()}"\n`)).toBe(true);
      expect(existsSync(dir())).toBe(false);
    });

    it.skipIf(!havePg18Basebackup)('the same output as PostgreSQL 18\'s pg_basebackup', async () => {
      const p = await runTool(join(PG18, 'pg_basebackup'), args(), { env });
      expect(p.status).toBe(1);
      expect(p.stderr).toBe(ours);
    });
  });

  describe('summarize_wal = off', () => {
    const summarizeWal = async () => (await primary.query<{ summarize_wal: string }>('SHOW summarize_wal'))[0]?.summarize_wal;
    const dir = () => join(work, 'refused-off');
    const args = () => ['-D', dir(), '-c', 'fast', '-i', join(work, 'pfull', 'backup_manifest'), ...socketArgs(primary)];
    let ours: string | undefined;
    beforeAll(async () => {
      await primary.query('ALTER SYSTEM SET summarize_wal = off');
      await primary.query('SELECT pg_reload_conf()');
      await waitFor('summarize_wal off', async () => ((await summarizeWal()) === 'off' ? true : undefined));
    });
    afterAll(async () => {
      await primary.query('ALTER SYSTEM RESET summarize_wal');
      await primary.query('SELECT pg_reload_conf()');
      await waitFor('summarize_wal on', async () => ((await summarizeWal()) === 'on' ? true : undefined));
    });

    it('refused with the server\'s message, exit 1, the data directory removed', async () => {
      const r = await runBasebackup(args(), { env });
      ours = r.stderr;
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        'pg_basebackup: error: could not initiate base backup: ERROR:  incremental backups cannot be taken unless WAL summarization is enabled\n' +
          `pg_basebackup: removing data directory "${dir()}"\n`,
      );
      expect(existsSync(dir())).toBe(false);
    });

    it.skipIf(!havePg18Basebackup)('the same output as PostgreSQL 18\'s pg_basebackup', async () => {
      const p = await runTool(join(PG18, 'pg_basebackup'), args(), { env });
      expect(p.status).toBe(1);
      expect(p.stderr).toBe(ours);
    });
  });

  describe('wal_level = minimal between full and incremental (the flow of 007_wal_level_minimal.pl)', () => {
    const dir = () => join(work, 'refused-minimal');
    const args = () => ['-D', dir(), '-c', 'fast', '-i', join(work, 'mfull', 'backup_manifest'), ...socketArgs(primary)];
    let ours: string | undefined;
    beforeAll(async () => {
      await backup(primary, 'mfull');
      await primary.query('ALTER SYSTEM SET wal_level = minimal');
      await primary.query('ALTER SYSTEM SET max_wal_senders = 0');
      await primary.query('ALTER SYSTEM SET summarize_wal = off');
      await primary.stop();
      await primary.startAgain();
      await primary.query('INSERT INTO hist (delta) VALUES (-1)');
      await primary.query('ALTER SYSTEM RESET wal_level');
      await primary.query('ALTER SYSTEM RESET max_wal_senders');
      await primary.query('ALTER SYSTEM RESET summarize_wal');
      await primary.stop();
      await primary.startAgain();
    }, 120_000);

    it('refused: the summaries for the range are incomplete (the server\'s message), exit 1, the data directory removed', async () => {
      const r = await runBasebackup(args(), { env });
      ours = r.stderr;
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        // The server's notice (as libpq prints it) may come first: the backup it started is aborted.
        /^(WARNING: {2}aborting backup due to backend exiting before pg_backup_stop was called\n)?pg_basebackup: error: could not initiate base backup: ERROR: {2}WAL summaries are required on timeline 1 from [0-9A-F]+\/[0-9A-F]+ to [0-9A-F]+\/[0-9A-F]+, but the summaries for that timeline and LSN range are incomplete\nDETAIL: {2}The first unsummarized LSN in this range is [0-9A-F]+\/[0-9A-F]+\.\n/,
      );
      expect(r.stderr.endsWith(`pg_basebackup: removing data directory "${dir()}"\n`)).toBe(true);
      expect(existsSync(dir())).toBe(false);
    });

    it.skipIf(!havePg18Basebackup)('the same output as PostgreSQL 18\'s pg_basebackup (but for the LSNs: each attempt starts at a new checkpoint)', async () => {
      const p = await runTool(join(PG18, 'pg_basebackup'), args(), { env });
      expect(p.status).toBe(1);
      expect(maskLsns(p.stderr)).toBe(maskLsns(ours ?? ''));
    });
  });
});
