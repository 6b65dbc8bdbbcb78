/**
 * The end-to-end suite for one server major (issue 3): our pg_basebackup takes plain and tar backups of
 * a ~220 MB cluster with data checksums and a second tablespace; each backup is checked (manifest,
 * backup_label, modes, links, archive layout) and restored, and every table must read back the same.
 * Each backup-core-<major>.test.ts calls defineCoreSuite(major).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkLabel, checkModes, checkPlainBackup, checkTarBackup, checkWalSegments, PROGRESS_LINE, stderrLines, walDirEntries, type CoreContext,
} from './backup-core-checks.js';
import {
  clientEnv, extractTar, manifestProblems, parseLsn, parseManifest, plainBackupFiles, runBasebackup, runTool,
  scanTar, socketArgs, systemTarList, tableDigests, tarBackupFiles, walFileName, type RunResult, type TableRef, type TarScan,
} from './backup-helpers.js';
import { chownForServer, makeTempDir, PgCluster, systemTool, type Major } from './pg-cluster.js';

const TABLES: TableRef[] = [
  { database: 'postgres', table: 't_main' },
  { database: 'postgres', table: 't_ts' },
  { database: 'postgres', table: 't_toast' },
  { database: 'db2', table: 't_other' },
];
const SMALL_TABLES: TableRef[] = [{ database: 'postgres', table: 't_small' }];

export function defineCoreSuite(major: Major): void {
  const oracle = major === 15 ? systemTool('pg_basebackup', 15) : undefined;
  const verifybackup = major === 15 ? systemTool('pg_verifybackup', 15) : undefined;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let src: PgCluster;
  let small: PgCluster;
  let tsDir: string;
  let tsOid: string;
  let systemId: string;
  let srcDigests: Record<string, string>;
  let smallDigests: Record<string, string>;
  let seq = 0;
  const fresh = (what: string) => join(work, `${what}-${++seq}`);
  const ctx = (): CoreContext => ({ major, tsOid, tsDir, systemId, verifybackup, env });

  beforeAll(async () => {
    work = makeTempDir(`pgbb-core${major}-`);
    mkdirSync(join(work, 'home'));
    env = clientEnv(join(work, 'home'));
    tsDir = join(work, 'ts-source');
    mkdirSync(tsDir);
    chownForServer(tsDir);
    [src, small] = await Promise.all([
      PgCluster.start({ major, conf: { autovacuum: 'off', max_wal_size: '1GB' } }),
      PgCluster.start({ major, initdbArgs: ['-g'], conf: { autovacuum: 'off' } }),
    ]);
    const loadSmall = async () => {
      await small.query(`CREATE TABLE t_small (id int PRIMARY KEY, v text);
        INSERT INTO t_small SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 20000) i`);
      await small.query('VACUUM (FREEZE, ANALYZE)');
      await small.query('CHECKPOINT');
      smallDigests = await tableDigests(small, SMALL_TABLES);
    };
    const loadSource = async () => {
      await src.query(`CREATE TABLESPACE ts1 LOCATION '${tsDir}'`);
      await src.query('CREATE DATABASE db2');
      await src.query(`CREATE TABLE t_main (id int PRIMARY KEY, payload text);
        INSERT INTO t_main SELECT i, repeat(md5(i::text), 28) FROM generate_series(1, 120000) i;
        CREATE INDEX t_main_payload ON t_main (left(payload, 8));
        CREATE TABLE t_ts (id int, payload text, n numeric) TABLESPACE ts1;
        INSERT INTO t_ts SELECT i, repeat(md5((-i)::text), 28), i * 1.5 FROM generate_series(1, 60000) i;
        CREATE INDEX t_ts_id ON t_ts (id) TABLESPACE ts1;
        CREATE TABLE t_toast (id int PRIMARY KEY, big text);
        INSERT INTO t_toast SELECT i, (SELECT string_agg(md5(i || ':' || j), '') FROM generate_series(1, 100) j) FROM generate_series(1, 8000) i;
        CREATE TABLE t_churn (id int, payload text)`);
      await src.query(`CREATE TABLE t_other (id int PRIMARY KEY, at timestamptz, v text);
        INSERT INTO t_other SELECT i, '2024-01-01'::timestamptz + i * interval '1 minute', 'row ' || i FROM generate_series(1, 5000) i`, { database: 'db2' });
      await src.query('VACUUM (FREEZE, ANALYZE)');
      await src.query('VACUUM (FREEZE, ANALYZE)', { database: 'db2' });
      await src.query('CHECKPOINT');
      const [ts] = await src.query<{ oid: string }>("SELECT oid::text FROM pg_tablespace WHERE spcname = 'ts1'");
      tsOid = ts?.oid ?? '';
      const [sys] = await src.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
      systemId = sys?.id ?? '';
      srcDigests = await tableDigests(src, TABLES);
    };
    await Promise.all([loadSource(), loadSmall()]);
  });

  afterAll(async () => {
    await Promise.all([src?.destroy(), small?.destroy()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Run a backup while another session writes and switches WAL segments (a few times, not to bloat WAL). */
  async function withChurn<T>(p: () => Promise<T>): Promise<T> {
    const client = new pg.Client(src.pgConfig());
    await client.connect();
    let done = false;
    const loop = (async () => {
      for (let i = 0; !done && i < 4; i++) {
        await client.query(`INSERT INTO t_churn SELECT g, repeat(md5(g::text), 28) FROM generate_series(${i * 500}, ${i * 500 + 499}) g`);
        await client.query('SELECT pg_switch_wal()');
        await new Promise((res) => setTimeout(res, 250));
      }
    })();
    try {
      return await p();
    } finally {
      done = true;
      await loop;
      await client.end();
    }
  }

  async function restoreAndCompare(dataDir: string, tsLocation: string | undefined, expected: Record<string, string>, tables: TableRef[]): Promise<void> {
    const r = await PgCluster.startOnDataDir(major, dataDir, { extraOwned: tsLocation ? [tsLocation] : [] });
    try {
      expect(await tableDigests(r, tables)).toEqual(expected);
      const [state] = await r.query<{ rec: boolean; cs: string }>("SELECT pg_is_in_recovery() AS rec, current_setting('data_checksums') AS cs");
      expect(state).toEqual({ rec: false, cs: 'on' });
      if (tsLocation !== undefined) {
        const [loc] = await r.query<{ l: string }>("SELECT pg_tablespace_location(oid) AS l FROM pg_tablespace WHERE spcname = 'ts1'");
        expect(loc?.l).toBe(tsLocation);
        expect(readlinkSync(join(dataDir, 'pg_tblspc', tsOid))).toBe(tsLocation);
      }
    } finally {
      await r.destroy();
    }
  }

  /** Extract a -Ft backup as an administrator would and start a server on it. */
  async function restoreTar(d: string, withWalTar: boolean): Promise<void> {
    const target = fresh('restore');
    const tsTarget = fresh('restore-ts');
    mkdirSync(target);
    mkdirSync(tsTarget);
    await extractTar(join(d, 'base.tar'), target);
    await extractTar(join(d, `${tsOid}.tar`), tsTarget);
    if (withWalTar) await extractTar(join(d, 'pg_wal.tar'), join(target, 'pg_wal'));
    // PostgreSQL recreates pg_tblspc links from tablespace_map when it starts on a backup.
    writeFileSync(join(target, 'tablespace_map'), `${tsOid} ${tsTarget}\n`);
    expect(existsSync(join(target, 'pg_tblspc', tsOid))).toBe(false);
    try {
      await restoreAndCompare(target, tsTarget, srcDigests, TABLES);
    } finally {
      rmSync(target, { recursive: true, force: true });
      rmSync(tsTarget, { recursive: true, force: true });
    }
  }

  const label = `core ${major}: it's a "label"`;

  describe(`PostgreSQL ${major}: backups restore`, () => {
    it('plain -X stream with -T, while another session writes: manifest, backup_label, modes, link; restores', async () => {
      const d = fresh('plain-stream');
      const mapped = fresh('plain-stream-ts');
      try {
        const r = await withChurn(() =>
          runBasebackup([...socketArgs(src), '-D', d, '-Fp', '-Xstream', '-cfast', '-T', `${tsDir}=${mapped}`, '-l', label], { env }),
        );
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout.length).toBe(0);
        await checkPlainBackup(ctx(), d, mapped, { label, algorithm: 'CRC32C', walFetched: false });
        await restoreAndCompare(d, mapped, srcDigests, TABLES);
      } finally {
        rmSync(d, { recursive: true, force: true });
        rmSync(mapped, { recursive: true, force: true });
      }
    });

    it('plain -X fetch -P with SHA256 manifest checksums: progress on stderr, WAL in pg_wal; restores', async () => {
      const d = fresh('plain-fetch');
      const mapped = fresh('plain-fetch-ts');
      try {
        const r = await runBasebackup(
          [...socketArgs(src), '-D', d, '-Fp', '-Xfetch', '-cfast', '-P', '--manifest-checksums=SHA256', `--tablespace-mapping=${tsDir}=${mapped}`],
          { env },
        );
        expect(r.status, r.stderr).toBe(0);
        const lines = stderrLines(r);
        expect(lines[0]).toBe('waiting for checkpoint');
        const progress = lines.slice(1);
        expect(progress.length).toBeGreaterThanOrEqual(1);
        for (const l of progress) expect(l).toMatch(/^ *\d+\/\d+ kB \(\d+%\), [0-2]\/2 tablespaces$/);
        const last = /^ *(\d+)\/(\d+) kB \(100%\), 2\/2 tablespaces$/.exec(progress[progress.length - 1] ?? '');
        expect(last?.[1]).toBe(last?.[2]);
        const done = progress.map((l) => Number(/\d+/.exec(l)?.[0]));
        expect([...done].sort((a, b) => a - b)).toEqual(done);
        await checkPlainBackup(ctx(), d, mapped, { label: 'pg_basebackup base backup', algorithm: 'SHA256', walFetched: true });
        await restoreAndCompare(d, mapped, srcDigests, TABLES);
      } finally {
        rmSync(d, { recursive: true, force: true });
        rmSync(mapped, { recursive: true, force: true });
      }
    });

    it('tar -X fetch: base.tar and <oid>.tar are whole server archives matching the manifest; restores', async () => {
      const d = fresh('tar-fetch');
      try {
        const r = await runBasebackup([...socketArgs(src), '-D', d, '-Ft', '-Xfetch', '-cfast', '-T', `${tsDir}=/ignored/for/tar`], { env });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toBe('');
        const { base, manifest } = checkTarBackup(ctx(), d, false, 'pg_basebackup base backup');
        const wal = base.members.filter((x) => /^pg_wal\/.+/.test(x.name) && x.typeflag === '0');
        expect(wal[0]?.name).toBe(`pg_wal/${walFileName(parseLsn(manifest.walRanges[0]?.startLsn ?? ''), 1)}`);
        checkWalSegments(new Map(wal.map((x) => [x.name.slice('pg_wal/'.length), x.size])), manifest, true);
        expect(existsSync('/ignored')).toBe(false);
        await restoreTar(d, false);
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });

    it('tar -X stream -v -P: messages in pg order, pg_wal.tar; restores', async () => {
      const d = fresh('tar-stream');
      try {
        const r = await withChurn(() => runBasebackup([...socketArgs(src), '-D', d, '-Ft', '-Xstream', '-cfast', '-v', '-P', '-l', label], { env }));
        expect(r.status, r.stderr).toBe(0);
        const { manifest } = checkTarBackup(ctx(), d, true, label);
        const lines = stderrLines(r);
        const messages = lines.filter((l) => !PROGRESS_LINE.test(l));
        const slot = await src.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_replication_slots');
        expect(slot[0]?.n).toBe('0');
        const w = manifest.walRanges[0];
        expect(messages).toEqual([
          'pg_basebackup: initiating base backup, waiting for checkpoint to complete',
          'pg_basebackup: checkpoint completed',
          `pg_basebackup: write-ahead log start point: ${w?.startLsn} on timeline 1`,
          'pg_basebackup: starting background WAL receiver',
          expect.stringMatching(/^pg_basebackup: created temporary replication slot "pg_basebackup_\d+"$/),
          `pg_basebackup: write-ahead log end point: ${w?.endLsn}`,
          'pg_basebackup: waiting for background process to finish streaming ...',
          'pg_basebackup: syncing data to disk ...',
          'pg_basebackup: renaming backup_manifest.tmp to backup_manifest',
          'pg_basebackup: base backup completed',
        ]);
        const firstProgress = lines.findIndex((l) => PROGRESS_LINE.test(l));
        const lastProgress = lines.length - 1 - [...lines].reverse().findIndex((l) => PROGRESS_LINE.test(l));
        expect(lines[firstProgress - 1]).toMatch(/created temporary replication slot/);
        expect(lines[lastProgress + 1]).toMatch(/write-ahead log end point/);
        expect(lines.slice(firstProgress, lastProgress + 1).every((l) => PROGRESS_LINE.test(l))).toBe(true);
        const m = /^ *(\d+)\/(\d+) kB \(100%\), 2\/2 tablespaces$/.exec((lines[lastProgress] ?? '').replace(/ {41}$/, ''));
        expect(lines[lastProgress]?.endsWith(' '.repeat(41))).toBe(true);
        expect(m?.[1]).toBe(m?.[2]);
        const walTar = scanTar(join(d, 'pg_wal.tar'));
        expect(walTar.terminatorOffset + 1024).toBe(walTar.length);
        expect(walTar.members[0]?.name).toBe(walFileName(parseLsn(w?.startLsn ?? ''), 1));
        checkWalSegments(new Map(walTar.members.map((x) => [x.name, x.size])), manifest, false);
        await restoreTar(d, true);
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });
  });

  describe(`PostgreSQL ${major}: tar to standard output`, () => {
    let stdoutTar: Buffer | undefined;

    it('refuses a cluster with two tablespaces', async () => {
      const cwd = fresh('cwd');
      mkdirSync(cwd);
      const r = await runBasebackup([...socketArgs(src), '-D', '-', '-Ft', '-Xfetch', '-cfast'], { env, cwd });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('pg_basebackup: error: can only write single tablespace to stdout, database has 2\n');
      expect(r.stdout.length).toBe(0);
      expect(readdirSync(cwd)).toEqual([]);
    });

    it('-Ft -D - -X fetch | tar tf -: a complete archive with backup_manifest as the last member', async () => {
      const cwd = fresh('cwd');
      mkdirSync(cwd);
      const r = await runBasebackup([...socketArgs(small), '-D', '-', '-Ft', '-Xfetch', '-cfast'], { env, cwd });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(readdirSync(cwd)).toEqual([]);
      const listed = await systemTarList(r.stdout);
      expect(listed[0]).toBe('backup_label');
      expect(listed[listed.length - 1]).toBe('backup_manifest');
      const scan: TarScan = scanTar(r.stdout, { keepData: (n) => n === 'backup_manifest' || n === 'backup_label' });
      expect(scan.members.map((x) => x.name)).toEqual(listed);
      expect(scan.terminatorOffset + 1024).toBe(scan.length);
      const manifestBytes = scan.members[scan.members.length - 1]?.data ?? Buffer.alloc(0);
      const m = parseManifest(manifestBytes);
      const withSums = scanTar(r.stdout, { checksum: m.files[0]?.algorithm ?? 'NONE' });
      const start = checkLabel(scan.members[0]?.data?.toString() ?? '', 'pg_basebackup base backup');
      expect(m.computedChecksum).toBe(m.recordedChecksum);
      expect(parseLsn(m.walRanges[0]?.startLsn ?? '')).toBe(start);
      expect(manifestProblems(m, tarBackupFiles([{ scan: withSums, prefix: '' }], true))).toEqual([]);
      expect(listed).toContain(`pg_wal/${walFileName(start, 1)}`);
      stdoutTar = r.stdout;
    });

    it.runIf(major === 15 || major === 18)('the archive written to stdout restores', async () => {
      expect(stdoutTar, 'needs the previous test').toBeDefined();
      const target = fresh('restore-stdout');
      mkdirSync(target);
      try {
        await extractTar(stdoutTar as Buffer, target);
        expect(readFileSync(join(target, 'tablespace_map'), 'utf8')).toBe('');
        await restoreAndCompare(target, undefined, smallDigests, SMALL_TABLES);
      } finally {
        rmSync(target, { recursive: true, force: true });
      }
    });
  });

  describe(`PostgreSQL ${major}: group access (initdb -g)`, () => {
    it('a plain backup gets 0640 files and 0750 directories, and a valid manifest', async () => {
      const d = fresh('plain-group');
      try {
        const r = await runBasebackup([...socketArgs(small), '-D', d, '-cfast'], { env });
        expect(r.status, r.stderr).toBe(0);
        checkModes(d, 0o750, 0o640);
        const m = parseManifest(readFileSync(join(d, 'backup_manifest')));
        expect(m.computedChecksum).toBe(m.recordedChecksum);
        expect(manifestProblems(m, plainBackupFiles(d, 'CRC32C', false))).toEqual([]);
        checkWalSegments(walDirEntries(join(d, 'pg_wal')), m, false);
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });
  });

  describe.runIf(oracle !== undefined)(`PostgreSQL ${major}: compared with Debian's pg_basebackup 15`, () => {
    // defined only for major 15 (oracle is undefined otherwise)
    it('tar -X fetch: same member order, same headers, byte-identical tablespace archive', async () => {
      const ours = fresh('ours');
      const theirs = fresh('theirs');
      try {
        const r = await runBasebackup([...socketArgs(src), '-D', ours, '-Ft', '-Xfetch', '-cfast'], { env });
        expect(r.status, r.stderr).toBe(0);
        const o = await runTool(oracle as string, [...socketArgs(src), '-D', theirs, '-Ft', '-Xfetch', '-cfast'], { env });
        expect(o.status, o.stderr).toBe(0);
        // The same files: the completion marker is beside the directory, not in it.
        expect(readdirSync(ours).sort()).toEqual(readdirSync(theirs).sort());
        const norm = (n: string) => n.replace(/[0-9A-F]{24}/, 'SEGMENT');
        const a = scanTar(join(ours, 'base.tar')).members;
        const b = scanTar(join(theirs, 'base.tar')).members;
        expect(a.map((x) => norm(x.name))).toEqual(b.map((x) => norm(x.name)));
        const bByName = new Map(b.map((x) => [x.name, x]));
        let same = 0;
        for (const x of a) {
          const y = bByName.get(x.name);
          if (!y || y.mtime !== x.mtime || y.size !== x.size) continue;
          expect(x.header.equals(y.header), x.name).toBe(true);
          same++;
        }
        expect(same).toBeGreaterThan(a.length * 0.8);
        expect(readFileSync(join(ours, `${tsOid}.tar`)).equals(readFileSync(join(theirs, `${tsOid}.tar`)))).toBe(true);
      } finally {
        rmSync(ours, { recursive: true, force: true });
        rmSync(theirs, { recursive: true, force: true });
      }
    });

    it('-v -P: the same messages, in the same order', async () => {
      const ours = fresh('ours');
      const theirs = fresh('theirs');
      const normalize = (r: RunResult) =>
        stderrLines(r).map((l) => (PROGRESS_LINE.test(l) ? 'PROGRESS' : l.replace(/[0-9A-F]+\/[0-9A-F]+/g, 'LSN').replace(/_\d+"/, '_PID"')))
          .filter((l, i, all) => l !== 'PROGRESS' || all[i - 1] !== 'PROGRESS');
      try {
        const args = ['-Ft', '-Xstream', '-cfast', '-v', '-P'];
        const r = await runBasebackup([...socketArgs(src), '-D', ours, ...args], { env });
        const o = await runTool(oracle as string, [...socketArgs(src), '-D', theirs, ...args], { env });
        expect([r.status, o.status]).toEqual([0, 0]);
        expect(normalize(r)).toEqual(normalize(o));
        const lastProgress = (x: RunResult) => stderrLines(x).filter((l) => PROGRESS_LINE.test(l)).pop()?.replace(/\d+/g, 'N');
        expect(lastProgress(r)).toBe(lastProgress(o));
      } finally {
        rmSync(ours, { recursive: true, force: true });
        rmSync(theirs, { recursive: true, force: true });
      }
    });
  });
}
