/**
 * Helpers for the end-to-end backup tests: run our CLI (dist/bin/pg_basebackup.mjs, the bundle package.json installs) or a system tool, extract tar
 * archives with the system tar, read backup_label and LSNs, and compare table contents between a source
 * cluster and a restored one.  What a backup wrote (tar, trees, manifest) is read by backup-contents.ts,
 * re-exported here.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chownForServer, makeTempDir, PgCluster, REPO_ROOT, type ClusterOptions } from './pg-cluster.js';

export * from './backup-contents.js';

export const CLI = join(REPO_ROOT, 'dist', 'bin', 'pg_basebackup.mjs');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: Buffer | string;
  cwd?: string;
  /** Kill the child (SIGKILL) after this long; default 110 s. */
  timeoutMs?: number;
}

/** Run a program to completion, collecting stdout as bytes and stderr as text. */
export function runTool(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 110_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined); // the child may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Run our pg_basebackup. */
export function runBasebackup(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runTool(process.execPath, [CLI, ...args], opts);
}

/** A clean environment for a client: no PG* variables leak in from the test runner. */
export function clientEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], HOME: home, LC_ALL: 'C', ...extra };
}

/** -h <socket dir> -p <port> -U postgres */
export function socketArgs(c: PgCluster): string[] {
  return ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres'];
}

/** Extract a tar file (or tar bytes) with the system tar into dest. */
export async function extractTar(archive: string | Buffer, dest: string): Promise<void> {
  const fromBuffer = Buffer.isBuffer(archive);
  const r = await runTool('tar', ['--no-same-owner', '-xf', fromBuffer ? '-' : archive, '-C', dest], fromBuffer ? { input: archive } : {});
  if (r.status !== 0) throw new Error(`tar -x failed (${r.status}): ${r.stderr}`);
}

/** Member names as the system tar lists them (`tar tf`). */
export async function systemTarList(archive: string | Buffer): Promise<string[]> {
  const fromBuffer = Buffer.isBuffer(archive);
  const r = await runTool('tar', ['-tf', fromBuffer ? '-' : archive], fromBuffer ? { input: archive } : {});
  if (r.status !== 0) throw new Error(`tar -t failed (${r.status}): ${r.stderr}`);
  return r.stdout.toString('utf8').split('\n').filter((l) => l !== '');
}

// ---------------------------------------------------------------------------------------------------
// backup_label, LSNs.

export function parseBackupLabel(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 2));
  }
  return out;
}

export function parseLsn(text: string): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(text);
  if (!m) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** The WAL segment file holding an LSN (16 MB segments unless told). */
export function walFileName(lsn: bigint, timeline: number, segSize = 16 * 1024 * 1024): string {
  const segno = lsn / BigInt(segSize);
  const perId = 0x100000000n / BigInt(segSize);
  const hex = (v: bigint | number) => v.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segno / perId)}${hex(segno % perId)}`;
}

// ---------------------------------------------------------------------------------------------------
// Table contents.

export interface TableRef {
  database: string;
  table: string;
}

/** Row count and the MD5 of every row's text (as md5 per row, in id order) for each table. */
export async function tableDigests(c: PgCluster, tables: TableRef[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { database, table } of tables) {
    const [row] = await c.query<{ n: string; md5: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(md5(x::text), '' ORDER BY x.id)) AS md5 FROM ${table} x`,
      { database },
    );
    out[`${database}.${table}`] = `${row?.n}:${row?.md5}`;
  }
  return out;
}

/** A source cluster with a tablespace, and a work directory (with a client home) for one test file. */
export interface TablespaceSource {
  c: PgCluster;
  work: string;
  /** clientEnv() with HOME in the work directory. */
  env: NodeJS.ProcessEnv;
  /** Location of tablespace ts1 (owned by the server user). */
  tsDir: string;
  /** Stop the cluster and remove the work directory. */
  destroy(): Promise<void>;
}

export async function startTablespaceSource(prefix: string, options: ClusterOptions): Promise<TablespaceSource> {
  const work = makeTempDir(prefix);
  mkdirSync(join(work, 'home'));
  const tsDir = join(work, 'ts-source');
  mkdirSync(tsDir);
  chownForServer(tsDir);
  const c = await PgCluster.start(options);
  await c.query(`CREATE TABLESPACE ts1 LOCATION '${tsDir}'`);
  return {
    c,
    work,
    env: clientEnv(join(work, 'home')),
    tsDir,
    async destroy() {
      await c.destroy();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
