/**
 * Helpers for the pg_verifybackup integration tests: run ours (dist/bin/pg_verifybackup.mjs, the bundle package.json installs) and PostgreSQL
 * 18's (/opt/pg18, when built) on the same inputs and compare, copy a backup (`cp -a`) to damage it,
 * flip bytes, find WAL records and tar members.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { formatLsn, parseLsn, type Lsn } from '../../src/lsn.js';
import { DirWalSource } from '../../src/wal/read/dir-source.js';
import { walFormatOfMajor, type WalFormat } from '../../src/wal/read/wal-format.js';
import { XLogReader } from '../../src/wal/read/xlog-reader.js';
import { runTool, type RunResult } from '../support/backup-helpers.js';
import { REPO_ROOT } from '../support/pg-cluster.js';

export const VERIFY_CLI = join(REPO_ROOT, 'dist', 'bin', 'pg_verifybackup.mjs');
export const PG18_VERIFY = '/opt/pg18/bin/pg_verifybackup';
export const have18 = existsSync(PG18_VERIFY);

export function runOurVerify(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return runTool(process.execPath, [VERIFY_CLI, ...args], env ? { env } : {});
}

export function runPgVerify(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return runTool(PG18_VERIFY, args, env ? { env } : {});
}

export interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

function outcome(r: RunResult): Outcome {
  return {
    status: r.status,
    stdout: r.stdout.toString('utf8'),
    // getopt names the program as invoked; progress lines depend on timing.
    stderr: r.stderr.split(PG18_VERIFY).join('pg_verifybackup').replace(/^.* kB \(\d+%\) verified\r?\n/gm, ''),
  };
}

/** Run both on the same arguments; expect the same status and output; returns ours. */
export async function expectSameAsPg(args: string[]): Promise<Outcome> {
  const [ours, pg] = await Promise.all([runOurVerify(args), runPgVerify(args)]);
  const o = outcome(ours);
  expect(o).toEqual(outcome(pg));
  return o;
}

export async function ours(args: string[]): Promise<Outcome> {
  return outcome(await runOurVerify(args));
}

export async function copyBackup(from: string, to: string): Promise<string> {
  const r = await runTool('cp', ['-a', from, to]);
  if (r.status !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
  return to;
}

export function flipByte(buf: Buffer, offset: number): void {
  buf[offset] = (buf[offset] as number) ^ 0xff;
}

export function flipFileByte(path: string, offset: number): void {
  const b = readFileSync(path);
  flipByte(b, offset);
  writeFileSync(path, b);
}

/** The manifest's first WAL range. */
export function walRangeOf(backupDir: string): { timeline: number; start: Lsn; end: Lsn } {
  const text = readFileSync(join(backupDir, 'backup_manifest'), 'utf8');
  const m = /"Timeline": (\d+), "Start-LSN": "([0-9A-F/]+)", "End-LSN": "([0-9A-F/]+)"/.exec(text);
  if (!m) throw new Error('no WAL range in manifest');
  return { timeline: Number(m[1]), start: parseLsn(m[2] as string) as Lsn, end: parseLsn(m[3] as string) as Lsn };
}

/** The first two records of a backup's WAL range (read with our reader from a pg_wal directory). */
export async function firstTwoRecords(walDir: string, major: number, range: { timeline: number; start: Lsn; end: Lsn }): Promise<[Lsn, Lsn]> {
  const reader = new XLogReader({
    source: new DirWalSource(walDir),
    walSegSize: 16 * 1024 * 1024,
    timeline: range.timeline,
    endPtr: range.end,
    format: walFormatOfMajor(major) as WalFormat,
  });
  try {
    await reader.findNextRecord(range.start);
    const a = await reader.readRecord();
    const b = await reader.readRecord();
    if (!a || !b) throw new Error(`fewer than two records in the range: ${reader.errorMessage}`);
    return [a.lsn, b.lsn];
  } finally {
    await reader.close();
  }
}

export const SEG = 16 * 1024 * 1024;

/** Offset of a WAL byte within its segment file. */
export function segOffset(lsn: Lsn): number {
  return Number(lsn % BigInt(SEG));
}

export { formatLsn };

/** Offset of a member's data in an uncompressed tar (ustar headers as pg writes them). */
export function tarMemberDataOffset(tar: Buffer, name: string): number {
  let pos = 0;
  while (pos + 512 <= tar.length) {
    const header = tar.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break;
    const n = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (n === name) return pos + 512;
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`member ${name} not in archive`);
}

/** Name of the first member with data (a regular file) of an uncompressed tar. */
export function firstFileMember(tar: Buffer): string {
  let pos = 0;
  while (pos + 512 <= tar.length) {
    const header = tar.subarray(pos, pos + 512);
    const n = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (size > 0 && header[156] === 0x30) return n;
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('no file member in archive');
}

/** Flip one byte of a member of a tar, .tar.gz handled by re-compressing. */
export function flipTarMemberByte(path: string, member: string, offsetInMember: number): void {
  const gz = path.endsWith('.gz');
  const raw = gz ? gunzipSync(readFileSync(path)) : readFileSync(path);
  flipByte(raw, tarMemberDataOffset(raw, member) + offsetInMember);
  writeFileSync(path, gz ? gzipSync(raw) : raw);
}
