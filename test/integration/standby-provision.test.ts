/**
 * Standby provisioning with -R on PostgreSQL 15 and 18, over TCP with SCRAM:
 * - `-R -C -S slot -X stream` into a directory: postgresql.auto.conf and standby.signal as pg writes
 *   them; the standby started on it streams from the primary through the slot and sees new rows;
 * - a backup taken from that hot standby ends (-X stream) and restores;
 * - after `pg_promote()` the standby is on timeline 2: a -X stream backup of it carries the history
 *   file (done-marked) in pg_wal/ and in pg_wal.tar, and restores on timeline 2;
 * - -R in tar format (base.tar rewritten) and on stdout, and --recovery-conf-without-password.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, extractTar, runBasebackup, runTool, socketArgs, systemTarList } from '../support/backup-helpers.js';
import { makeTempDir, MAJORS, PgCluster, type Major } from '../support/pg-cluster.js';
import { waitFor } from './wal-support.js';

const TESTED: Major[] = MAJORS;
const primaries = new Map<Major, PgCluster>();
let work: string;
let env: NodeJS.ProcessEnv;
let seq = 0;

beforeAll(async () => {
  work = makeTempDir('pgbb-standby-');
  mkdirSync(join(work, 'home'));
  await Promise.all(
    TESTED.map(async (major) => {
      const c = await PgCluster.start({ major, auth: 'scram-sha-256', conf: { autovacuum: 'off' } });
      primaries.set(major, c);
      await c.query(`CREATE TABLE t (id int PRIMARY KEY, v text);
        INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 1000) i`);
    }),
  );
  env = clientEnv(join(work, 'home'));
});

afterAll(async () => {
  await Promise.all([...primaries.values()].map((c) => c.destroy()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Connection options naming the primary over TCP, as a standby must reach it. */
function tcpArgs(c: PgCluster): string[] {
  return ['-d', `host=127.0.0.1 port=${c.port} user=postgres`];
}

/** primary_conninfo / primary_slot_name lines appended by -R, unquoted. */
function recoverySettings(autoConf: string): { conninfo: string | undefined; slot: string | undefined } {
  const unquote = (m: RegExpExecArray | null) => m?.[1]?.replace(/''/g, "'").replace(/\\\\/g, '\\');
  return {
    conninfo: unquote(/^primary_conninfo = '((?:[^']|'')*)'$/m.exec(autoConf)),
    slot: unquote(/^primary_slot_name = '((?:[^']|'')*)'$/m.exec(autoConf)),
  };
}

async function count(c: PgCluster): Promise<number> {
  const [r] = await c.query<{ n: string }>('SELECT count(*)::text AS n FROM t');
  return Number(r?.n);
}

describe.each(TESTED)('PostgreSQL %i', (major) => {
  const primary = () => primaries.get(major) as PgCluster;
  let standby: PgCluster | undefined;
  let standbyDir: string;
  afterAll(async () => {
    await standby?.destroy();
    if (standbyDir) rmSync(standbyDir, { recursive: true, force: true });
  });

  it('-R -C -S: a standby that streams from the primary through the slot and sees new rows', async () => {
    standbyDir = join(work, `standby-${major}`);
    const r = await runBasebackup([...tcpArgs(primary()), '-D', standbyDir, '-R', '-C', '-S', 'standby_slot', '-Xstream', '-cfast'], {
      env: { ...env, PGPASSWORD: primary().password },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(join(standbyDir, 'standby.signal')).size).toBe(0);
    const { conninfo, slot } = recoverySettings(readFileSync(join(standbyDir, 'postgresql.auto.conf'), 'utf8'));
    expect(conninfo).toContain('host=127.0.0.1');
    expect(conninfo).toContain(`port=${primary().port}`);
    expect(conninfo).toContain('user=postgres');
    expect(conninfo).toContain(`password='${primary().password}'`); // quoted: it has a '-'
    expect(slot).toBe('standby_slot');
    const [s] = await primary().query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'standby_slot'");
    expect(s?.active).toBe(false); // created by -C, kept after success, unused until the standby comes

    await primary().query('INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1001, 1500) i');
    standby = await PgCluster.startOnDataDir(major, standbyDir);
    const [rec] = await standby.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    expect(rec?.rec).toBe(true);
    await waitFor('the standby on pg_stat_replication', async () => {
      const rows = await primary().query<{ state: string }>(
        "SELECT r.state FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'standby_slot'",
      );
      return rows[0]?.state === 'streaming' ? true : undefined;
    });
    await primary().query('INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1501, 2000) i');
    const sb = standby;
    await waitFor('new rows on the standby', async () => ((await count(sb)) === 2000 ? true : undefined));
  });

  it('a -X stream backup of the hot standby ends and restores', async () => {
    const sb = standby as PgCluster;
    const d = join(work, `from-standby-${++seq}`);
    const r = await runBasebackup([...socketArgs(sb), '-D', d, '-Xstream', '-cfast', '-v'], { env, timeoutMs: 60_000 });
    expect(r.signal).toBeNull(); // not killed by the timeout
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(d, 'backup_label'), 'utf8')).toContain('BACKUP FROM: standby');
    const restored = await PgCluster.startOnDataDir(major, d);
    try {
      expect(await count(restored)).toBeGreaterThanOrEqual(2000);
    } finally {
      await restored.destroy();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('after pg_promote(): a -X stream backup on timeline 2 has the history file, done-marked, and restores', async () => {
    const sb = standby as PgCluster;
    await sb.query('SELECT pg_promote()');
    await waitFor('the promotion', async () => {
      const [r] = await sb.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_insert_lsn()) AS f');
      return r?.f.startsWith('00000002') ? true : undefined;
    });
    await sb.query('INSERT INTO t SELECT i, md5(i::text) FROM generate_series(2001, 2100) i');
    const history = readFileSync(join(sb.dataDir, 'pg_wal', '00000002.history'), 'utf8');
    expect(history).toMatch(/^1\t[0-9A-F]+\/[0-9A-F]+\t/);

    const d = join(work, `promoted-${++seq}`);
    const r = await runBasebackup([...socketArgs(sb), '-D', d, '-Xstream', '-cfast', '-v'], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/write-ahead log start point: \S+ on timeline 2/);
    expect(readFileSync(join(d, 'pg_wal', '00000002.history'), 'utf8')).toBe(history);
    expect(existsSync(join(d, 'pg_wal', 'archive_status', '00000002.history.done'))).toBe(true);
    expect(readFileSync(join(d, 'backup_label'), 'utf8')).toContain('START TIMELINE: 2');

    const t = join(work, `promoted-tar-${++seq}`);
    const rt = await runBasebackup([...socketArgs(sb), '-D', t, '-Ft', '-Xstream', '-cfast'], { env });
    expect(rt.status, rt.stderr).toBe(0);
    const walTar = await systemTarList(join(t, 'pg_wal.tar'));
    expect(walTar.slice(0, 2)).toEqual(['00000002.history', 'archive_status/00000002.history.done']);
    expect(walTar.filter((n) => /^[0-9A-F]{24}$/.test(n)).every((n) => n.startsWith('00000002'))).toBe(true);
    rmSync(t, { recursive: true, force: true });

    const restored = await PgCluster.startOnDataDir(major, d);
    try {
      expect(await count(restored)).toBe(2100);
      const [w] = await restored.query<{ f: string; rec: boolean }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f, pg_is_in_recovery() AS rec');
      expect(w?.rec).toBe(false);
      expect(w?.f.startsWith('00000002')).toBe(true);
    } finally {
      await restored.destroy();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('-R in tar format: base.tar rewritten with the settings and an empty standby.signal', async () => {
    const d = join(work, `tar-r-${++seq}`);
    const r = await runBasebackup([...tcpArgs(primary()), '-D', d, '-Ft', '-R', '-S', 'standby_slot', '-cfast'], {
      env: { ...env, PGPASSWORD: primary().password },
    });
    expect(r.status, r.stderr).toBe(0);
    const x = join(work, `tar-r-x-${seq}`);
    mkdirSync(x);
    await extractTar(join(d, 'base.tar'), x);
    expect(statSync(join(x, 'standby.signal')).size).toBe(0);
    const { conninfo, slot } = recoverySettings(readFileSync(join(x, 'postgresql.auto.conf'), 'utf8'));
    expect(conninfo).toContain(`password='${primary().password}'`);
    expect(slot).toBe('standby_slot');
    expect(existsSync(join(d, 'pg_wal.tar'))).toBe(true);
    rmSync(d, { recursive: true, force: true });
    rmSync(x, { recursive: true, force: true });
  });

  it('-R on stdout with --recovery-conf-without-password: settings without the password, WAL and manifest inside', async () => {
    const r = await runBasebackup([...tcpArgs(primary()), '-D', '-', '-Ft', '-R', '--recovery-conf-without-password', '-cfast'], {
      env: { ...env, PGPASSWORD: primary().password },
    });
    expect(r.status, r.stderr).toBe(0);
    const names = await systemTarList(r.stdout);
    expect(names).toContain('standby.signal');
    expect(names.some((n) => /^pg_wal\/[0-9A-F]{24}$/.test(n))).toBe(true);
    // As pg does it: the manifest is injected before the archive ends, standby.signal when it ends.
    expect(names.slice(-2)).toEqual(['backup_manifest', 'standby.signal']);
    const conf = await runTool('tar', ['-xOf', '-', 'postgresql.auto.conf'], { input: r.stdout });
    const { conninfo, slot } = recoverySettings(conf.stdout.toString());
    expect(conninfo).toContain('host=127.0.0.1');
    expect(conninfo).toContain('user=postgres');
    expect(conninfo).not.toContain('password=');
    expect(conninfo).not.toContain(primary().password);
    expect(slot).toBeUndefined();
  });
});
