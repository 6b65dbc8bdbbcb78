/**
 * Helpers for the compression, target, rate and sync integration tests: a source cluster with a
 * tablespace and known table contents, decompression with the standard tools (gzip, lz4, zstd) when
 * installed and with independent libraries otherwise, manifest checks of decompressed archives, and
 * restores compared table by table.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { extractTar, manifestProblems, parseManifest, scanTar, tarBackupFiles, type TarScan } from '../support/backup-helpers.js';
import { chownForServer, PgCluster, type Major } from '../support/pg-cluster.js';

const require = createRequire(import.meta.url);

/** Anything that runs SQL: PgCluster or DebianPg15Cluster. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, opts?: { database?: string }): Promise<R[]>;
}

export const TABLES = ['t_main', 't_ts'] as const;

/** Tables in the default tablespace and in a tablespace at `tsDir` (owned by the server user). */
export async function loadSource(c: Queryable, tsDir: string | undefined, rows = 20_000): Promise<string | undefined> {
  if (tsDir !== undefined) {
    mkdirSync(tsDir, { recursive: true });
    chownForServer(tsDir);
    await c.query(`CREATE TABLESPACE ts1 LOCATION '${tsDir}'`);
  }
  await c.query(`CREATE TABLE t_main (id int PRIMARY KEY, payload text);
    INSERT INTO t_main SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, ${rows}) i;
    CREATE TABLE t_ts (id int, payload text) ${tsDir !== undefined ? 'TABLESPACE ts1' : ''};
    INSERT INTO t_ts SELECT i, md5((-i)::text) FROM generate_series(1, ${rows / 2}) i`);
  await c.query('CHECKPOINT');
  if (tsDir === undefined) return undefined;
  const [ts] = await c.query<{ oid: string }>("SELECT oid::text AS oid FROM pg_tablespace WHERE spcname = 'ts1'");
  return ts?.oid;
}

/** Row count and MD5 of the rows of each table. */
export async function digests(c: Queryable): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of TABLES) {
    const [row] = await c.query<{ n: string; md5: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(md5(x::text), '' ORDER BY x.id)) AS md5 FROM ${t} x`,
    );
    out[t] = `${row?.n}:${row?.md5}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Decompression, independent of the client under test.

const TOOL_ARGS = { gzip: ['gzip', '-d', '-c'], lz4: ['lz4', '-d', '-c'], zstd: ['zstd', '-d', '-c', '-q'] } as const;
export type Algorithm = keyof typeof TOOL_ARGS;
export const SUFFIX: Record<Algorithm, string> = { gzip: '.gz', lz4: '.lz4', zstd: '.zst' };

export const TOOLS: Record<Algorithm, boolean> = {
  gzip: spawnSync('gzip', ['--version']).status === 0,
  lz4: spawnSync('lz4', ['--version']).status === 0,
  zstd: spawnSync('zstd', ['--version']).status === 0,
};
for (const [alg, ok] of Object.entries(TOOLS)) {
  if (!ok) console.log(`the ${alg} tool is not installed: ${alg} outputs are checked with a library instead`);
}

/** Decompress with the standard tool, or with an independent library (zlib, lz4_flex, libzstd). */
export async function decompress(alg: Algorithm, data: Buffer): Promise<Buffer> {
  if (TOOLS[alg]) {
    const [cmd, ...args] = TOOL_ARGS[alg];
    const r = spawnSync(cmd, args, { input: data, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
    return r.stdout;
  }
  if (alg === 'gzip') return gunzipSync(data);
  if (alg === 'lz4') return (require('lz4-napi') as { decompressFrameSync(b: Buffer): Buffer }).decompressFrameSync(data);
  return (require('@mongodb-js/zstd') as { decompress(b: Buffer): Promise<Buffer> }).decompress(data);
}

/** An archive of a -Ft backup, decompressed according to its suffix. */
export async function readArchive(dir: string, name: string): Promise<Buffer> {
  const data = readFileSync(join(dir, name));
  for (const alg of Object.keys(SUFFIX) as Algorithm[]) if (name.endsWith(SUFFIX[alg])) return decompress(alg, data);
  return data;
}

/**
 * The archives of a -Ft backup match its manifest file by file (size and checksum), except the files
 * -R edits.  Returns the decompressed base archive.
 */
export async function checkTarAgainstManifest(dir: string, names: { base: string; ts?: string | undefined; tsOid?: string | undefined }, o: { walFetched: boolean; recovery: boolean }): Promise<Buffer> {
  const m = parseManifest(readFileSync(join(dir, 'backup_manifest')));
  expect(m.computedChecksum).toBe(m.recordedChecksum);
  const alg = m.files[0]?.algorithm ?? 'CRC32C';
  const base = await readArchive(dir, names.base);
  const archives: { scan: TarScan; prefix: string }[] = [{ scan: scanTar(base, { checksum: alg }), prefix: '' }];
  if (names.ts !== undefined) archives.push({ scan: scanTar(await readArchive(dir, names.ts), { checksum: alg }), prefix: `pg_tblspc/${names.tsOid}/` });
  const actual = tarBackupFiles(archives, o.walFetched);
  if (o.recovery) {
    for (const f of ['postgresql.auto.conf', 'standby.signal']) actual.delete(f);
    m.files = m.files.filter((f) => f.path !== 'postgresql.auto.conf' && f.path !== 'standby.signal');
  }
  expect(manifestProblems(m, actual)).toEqual([]);
  return base;
}

// ---------------------------------------------------------------------------------------------------
// Restores.

export interface RestoreExpectation {
  major: Major;
  digests: Record<string, string>;
  /** -R was used: the restored server must come up as a standby. */
  standby?: boolean;
}

/** Start a server on a restored data directory and compare its tables with the source's. */
export async function startAndCompare(dataDir: string, extraOwned: string[], e: RestoreExpectation): Promise<void> {
  const r = await PgCluster.startOnDataDir(e.major, dataDir, { extraOwned });
  try {
    expect(await digests(r)).toEqual(e.digests);
    const [state] = await r.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    expect(state?.rec).toBe(e.standby === true);
  } finally {
    await r.destroy();
  }
}

/**
 * Restore a -Ft backup as an administrator would: extract base (and the tablespace archive, pointed to
 * by a rewritten tablespace_map) and pg_wal.tar[.gz] if present, then start it and compare.
 */
export async function restoreTarBackup(dir: string, work: string, names: { base: Buffer; ts?: string | undefined; tsOid?: string | undefined }, e: RestoreExpectation): Promise<void> {
  const target = join(work, 'restore');
  const tsTarget = join(work, 'restore-ts');
  mkdirSync(target);
  try {
    await extractTar(names.base, target);
    const owned: string[] = [];
    if (names.ts !== undefined) {
      mkdirSync(tsTarget);
      await extractTar(await readArchive(dir, names.ts), tsTarget);
      writeFileSync(join(target, 'tablespace_map'), `${names.tsOid} ${tsTarget}\n`);
      owned.push(tsTarget);
    }
    const wal = readdirSync(dir).find((f) => f.startsWith('pg_wal.tar'));
    if (wal !== undefined) await extractTar(await readArchive(dir, wal), join(target, 'pg_wal'));
    await startAndCompare(target, owned, e);
  } finally {
    rmSync(target, { recursive: true, force: true });
    if (existsSync(tsTarget)) rmSync(tsTarget, { recursive: true, force: true });
  }
}
