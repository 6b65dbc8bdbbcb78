/**
 * Each compression algorithm × client/server side × plain/tar format, against a real server: the
 * file names pg uses, archives that the standard tools decompress and that match the manifest file by
 * file, and restores whose tables read back identical to the source's.
 *
 * The embedded servers (15-18) are built with gzip only: server-side lz4 and zstd are refused by them
 * (checked), and restored from Debian's PostgreSQL 15 server instead when it is installed
 * (compress-server-deb15.test.ts).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, runBasebackup, scanTar, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster, type Major } from '../support/pg-cluster.js';
import { checkTarAgainstManifest, digests, loadSource, restoreTarBackup, startAndCompare, SUFFIX, type Algorithm, type Queryable } from './compress-support.js';


/** The client's view of a cluster: where to connect, and what to compare with. */
export interface Source {
  cluster: Queryable & { socketDir: string; port: number };
  major: Major;
  tsOid: string | undefined;
  tsDir: string | undefined;
  digests: Record<string, string>;
}

export interface TarCase {
  name: string;
  args: string[];
  /** Suffix of base.tar and <oid>.tar. */
  archiveSuffix: string;
  /** pg_wal.tar's name with -X stream, or undefined. */
  walTar?: string;
  walFetched: boolean;
  recovery?: boolean;
  /** A check of the raw (compressed) base archive. */
  checkRaw?: (raw: Buffer) => void;
}

export function tarCaseTest(getSource: () => Source, work: () => string, c: TarCase): void {
  it(c.name, async () => {
    const s = getSource();
    const d = join(work(), `tar-${c.name.replace(/[^a-z0-9]+/gi, '-')}`);
    const r = await runBasebackup([...socketArgs(s.cluster as PgCluster), '-D', d, '--no-sync', '-c', 'fast', ...c.args], { env: clientEnv(work()) });
    expect(r.stderr.split('\n').filter((l) => /error|warning/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
    const ts = s.tsOid !== undefined ? `${s.tsOid}.tar${c.archiveSuffix}` : undefined;
    const expected = ['backup_manifest', `base.tar${c.archiveSuffix}`, ...(ts ? [ts] : []), ...(c.walTar ? [c.walTar] : [])].sort();
    expect(readdirSync(d).sort()).toEqual(expected);
    c.checkRaw?.(readFileSync(join(d, `base.tar${c.archiveSuffix}`)));
    const base = await checkTarAgainstManifest(d, { base: `base.tar${c.archiveSuffix}`, ts, tsOid: s.tsOid }, { walFetched: c.walFetched, recovery: c.recovery === true });
    if (c.recovery) {
      const members = scanTar(base, { keepData: (n) => n === 'postgresql.auto.conf' }).members;
      expect(members.map((m) => m.name)).toContain('standby.signal');
      expect(members.find((m) => m.name === 'postgresql.auto.conf')?.data?.toString()).toMatch(/^primary_conninfo = '.*'$/m);
    }
    const restoreWork = join(work(), `restore-${c.name.replace(/[^a-z0-9]+/gi, '-')}`);
    mkdirSync(restoreWork, { mode: 0o755 });
    await restoreTarBackup(d, restoreWork, { base, ts, tsOid: s.tsOid }, { major: s.major, digests: s.digests, standby: c.recovery });
    rmSync(d, { recursive: true, force: true });
    rmSync(restoreWork, { recursive: true, force: true });
  });
}

export function plainCaseTest(getSource: () => Source, work: () => string, name: string, args: string[]): void {
  it(name, async () => {
    const s = getSource();
    const d = join(work(), `plain-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    const mapped = join(work(), `plain-ts-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    const map = s.tsDir !== undefined ? ['-T', `${s.tsDir}=${mapped}`] : [];
    const r = await runBasebackup([...socketArgs(s.cluster as PgCluster), '-D', d, '--no-sync', '-c', 'fast', ...map, ...args], { env: clientEnv(work()) });
    expect(r.stderr.split('\n').filter((l) => /error|warning/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
    // decompressed and extracted: no archive is left behind
    expect(readdirSync(d).filter((f) => f.includes('.tar'))).toEqual([]);
    await startAndCompare(d, s.tsDir !== undefined ? [mapped] : [], { major: s.major, digests: s.digests });
    rmSync(d, { recursive: true, force: true });
    rmSync(mapped, { recursive: true, force: true });
  });
}

/** gzip's header byte XFL: 2 = maximum compression (level 9), 4 = fastest (level 1). */
export function gzipXfl(expected: number): (raw: Buffer) => void {
  return (raw) => expect(raw[8]).toBe(expected);
}

export function defineCompressionSuite(major: Major): void {
  let work: string;
  let src: PgCluster;
  let source: Source;
  const getSource = () => source;
  const getWork = () => work;

  beforeAll(async () => {
    work = makeTempDir(`pgbb-compress${major}-`);
    mkdirSync(join(work, 'home'));
    src = await PgCluster.start({ major, conf: { autovacuum: 'off' } });
    const tsDir = join(work, 'ts-source');
    const tsOid = await loadSource(src, tsDir);
    source = { cluster: src, major, tsOid, tsDir, digests: await digests(src) };
  });

  afterAll(async () => {
    await src?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe(`PostgreSQL ${major} (embedded): compressed backups restore`, () => {
    tarCaseTest(getSource, getWork, {
      name: 'client gzip, tar, -X stream: base.tar.gz, <oid>.tar.gz, pg_wal.tar.gz',
      args: ['-Ft', '-z', '-X', 'stream'],
      archiveSuffix: '.gz',
      walTar: 'pg_wal.tar.gz',
      walFetched: false,
    });
    tarCaseTest(getSource, getWork, {
      name: 'client lz4, tar, -X stream: base.tar.lz4, <oid>.tar.lz4, pg_wal.tar left uncompressed as in pg',
      args: ['-Ft', '-Z', 'lz4', '-X', 'stream'],
      archiveSuffix: '.lz4',
      walTar: 'pg_wal.tar',
      walFetched: false,
    });
    tarCaseTest(getSource, getWork, {
      name: 'client zstd with 2 workers, tar, -X fetch: base.tar.zst, <oid>.tar.zst',
      args: ['-Ft', '-Z', 'client-zstd:level=5,workers=2', '-X', 'fetch'],
      archiveSuffix: '.zst',
      walFetched: true,
    });
    plainCaseTest(getSource, getWork, 'server gzip as -Z server-5 (a bare level is gzip), plain, -X stream: decompressed and extracted', ['-Fp', '-Z', 'server-5', '-X', 'stream']);
    tarCaseTest(getSource, getWork, {
      name: 'server gzip:9, tar, -X fetch -R: base.tar.gz decompressed, edited and compressed again at level 9',
      args: ['-Ft', '-Z', 'server-gzip:9', '-X', 'fetch', '-R'],
      archiveSuffix: '.gz',
      walFetched: true,
      recovery: true,
      checkRaw: gzipXfl(2),
    });

    it.each(['lz4', 'zstd'] as Algorithm[])('server %s: the embedded server refuses it with its own message, and nothing is left', async (alg) => {
      const d = join(work, `refused-${alg}`);
      const r = await runBasebackup([...socketArgs(src), '-D', d, '-Ft', '-X', 'fetch', '-Z', `server-${alg}`], { env: clientEnv(work) });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(
        `pg_basebackup: error: could not initiate base backup: ERROR:  invalid compression specification: this build does not support compression with ${alg === 'lz4' ? 'LZ4' : 'ZSTD'}`,
      );
      expect(() => readdirSync(d)).toThrow();
      expect(SUFFIX[alg]).toBeDefined();
    });

    // Server lz4 and zstd, restored: compress-server-deb15.test.ts (Debian's 15) and compress-server-18.test.ts (/opt/pg18).
  });
}
