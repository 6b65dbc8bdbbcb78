/**
 * Checks of one backup for the end-to-end suite (backup-core-suite.ts): backup_label, backup_manifest
 * against the files written, WAL segments, file modes, the layout of -Ft archives.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  listTree, manifestProblems, parseBackupLabel, parseLsn, parseManifest, plainBackupFiles, runTool, scanTar, tarBackupFiles,
  walFileName, type Manifest, type RunResult,
} from './backup-helpers.js';
import type { Major } from './pg-cluster.js';

export const SEG = 16 * 1024 * 1024;
const LABEL_KEYS = ['START WAL LOCATION', 'CHECKPOINT LOCATION', 'BACKUP METHOD', 'BACKUP FROM', 'START TIME', 'LABEL', 'START TIMELINE'];
export const PROGRESS_LINE = /^ *\d+\/\d+ kB \(\d+%\), \d+\/\d+ tablespaces?( \(.*\)| *)$/;

/** The lines of stderr (progress lines end in "\n" when stderr is not a terminal). */
export function stderrLines(r: RunResult): string[] {
  return r.stderr.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);
}

/** What the checks need to know about the source cluster. */
export interface CoreContext {
  major: Major;
  /** The second tablespace: its oid and its location in the source cluster. */
  tsOid: string;
  tsDir: string;
  systemId: string;
  /** Debian's pg_verifybackup 15, for backups of a 15 server only. */
  verifybackup: string | undefined;
  env: NodeJS.ProcessEnv;
}

/** backup_label as the server writes it for this backup; returns the start LSN. */
export function checkLabel(text: string, label: string): bigint {
  const l = parseBackupLabel(text);
  expect([...l.keys()]).toEqual(LABEL_KEYS);
  const m = /^([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)$/.exec(l.get('START WAL LOCATION') ?? '');
  expect(m, text).not.toBeNull();
  const start = parseLsn(m?.[1] ?? '');
  expect(m?.[2]).toBe(walFileName(start, 1));
  expect(parseLsn(l.get('CHECKPOINT LOCATION') ?? '')).toBeGreaterThanOrEqual(start);
  expect(l.get('BACKUP METHOD')).toBe('streamed');
  expect(l.get('BACKUP FROM')).toBe('primary');
  expect(l.get('LABEL')).toBe(label);
  expect(l.get('START TIMELINE')).toBe('1');
  return start;
}

export function checkManifestHeader(ctx: CoreContext, m: Manifest, startLsn: bigint, algorithm: string): void {
  expect(m.computedChecksum).toBe(m.recordedChecksum);
  expect(m.version).toBe(ctx.major >= 17 ? 2 : 1);
  expect(m.systemIdentifier).toBe(ctx.major >= 17 ? ctx.systemId : undefined);
  expect(m.walRanges).toHaveLength(1);
  expect(m.walRanges[0]?.timeline).toBe(1);
  expect(parseLsn(m.walRanges[0]?.startLsn ?? '')).toBe(startLsn);
  expect(parseLsn(m.walRanges[0]?.endLsn ?? '')).toBeGreaterThanOrEqual(startLsn);
  expect(new Set(m.files.map((f) => f.algorithm))).toEqual(new Set([algorithm]));
  const paths = new Set(m.files.map((f) => f.path));
  for (const p of ['PG_VERSION', 'global/pg_control', 'backup_label', 'postgresql.conf']) expect(paths).toContain(p);
  expect(m.files.filter((f) => f.path.startsWith(`pg_tblspc/${ctx.tsOid}/PG_${ctx.major}_`)).length).toBeGreaterThanOrEqual(3);
}

/**
 * Every WAL segment from the start LSN's to the end LSN's must be there, full size (`wal` maps the
 * names under pg_wal, or in pg_wal.tar, to sizes).  Fetched segments all have archive_status/*.done;
 * streamed ones have it once complete, i.e. all but (possibly) the last.
 */
export function checkWalSegments(wal: Map<string, number>, m: Manifest, fetched: boolean): void {
  const first = parseLsn(m.walRanges[0]?.startLsn ?? '') / BigInt(SEG);
  const last = (parseLsn(m.walRanges[0]?.endLsn ?? '') - 1n) / BigInt(SEG);
  for (let s = first; s <= last; s++) {
    const name = walFileName(s * BigInt(SEG), 1);
    expect(wal.get(name), name).toBe(SEG);
    if (fetched || s < last) expect(wal.get(`archive_status/${name}.done`), `${name}.done`).toBe(0);
  }
}

export function walDirEntries(dir: string): Map<string, number> {
  return new Map([...listTree(dir)].filter(([, e]) => e.type === 'file').map(([p, e]) => [p, e.size]));
}

export function checkModes(root: string, dirMode: number, fileMode: number): void {
  expect(statSync(root).mode & 0o7777).toBe(dirMode);
  const bad = [...listTree(root)]
    .filter(([, e]) => e.type !== 'symlink' && e.mode !== (e.type === 'dir' ? dirMode : fileMode))
    .map(([p, e]) => `${p} ${e.mode.toString(8)}`);
  expect(bad).toEqual([]);
}

/** Everything that can be checked on a plain backup before a server starts on it. */
export async function checkPlainBackup(ctx: CoreContext, d: string, mapped: string, o: { label: string; algorithm: string; walFetched: boolean }): Promise<void> {
  expect(existsSync(join(d, 'backup_manifest.tmp'))).toBe(false);
  expect(existsSync(join(d, 'tablespace_map'))).toBe(false);
  const start = checkLabel(readFileSync(join(d, 'backup_label'), 'utf8'), o.label);
  const m = parseManifest(readFileSync(join(d, 'backup_manifest')));
  checkManifestHeader(ctx, m, start, o.algorithm);
  expect(manifestProblems(m, plainBackupFiles(d, o.algorithm, o.walFetched))).toEqual([]);
  expect(readlinkSync(join(d, 'pg_tblspc', ctx.tsOid))).toBe(mapped);
  checkModes(d, 0o700, 0o600);
  checkModes(mapped, 0o700, 0o600);
  checkWalSegments(walDirEntries(join(d, 'pg_wal')), m, o.walFetched);
  if (ctx.major >= 17) expect(statSync(join(d, 'pg_wal', 'summaries')).isDirectory()).toBe(true);
  if (ctx.verifybackup !== undefined) {
    // With default options: the completion marker is beside the target, not inside it.
    const v = await runTool(ctx.verifybackup, [d], { env: ctx.env });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.toString()).toContain('backup successfully verified');
  }
}

/** Check a -Ft directory and its archives; returns the scans and the manifest. */
export function checkTarBackup(ctx: CoreContext, d: string, withWalTar: boolean, label: string) {
  const names = [`${ctx.tsOid}.tar`, 'backup_manifest', 'base.tar', ...(withWalTar ? ['pg_wal.tar'] : [])].sort();
  expect(readdirSync(d).sort()).toEqual(names);
  expect(statSync(d).mode & 0o7777).toBe(0o700);
  for (const n of names) expect(statSync(join(d, n)).mode & 0o7777, n).toBe(0o600);
  const m = parseManifest(readFileSync(join(d, 'backup_manifest')));
  const algorithm = m.files[0]?.algorithm ?? 'NONE';
  const keepData = (n: string) => n === 'backup_label' || n === 'tablespace_map';
  const base = scanTar(join(d, 'base.tar'), { checksum: algorithm, keepData });
  const ts = scanTar(join(d, `${ctx.tsOid}.tar`), { checksum: algorithm });
  for (const s of [base, ts]) expect(s.terminatorOffset + 1024).toBe(s.length);
  const baseNames = base.members.map((x) => x.name);
  expect(baseNames.slice(0, 2)).toEqual(['backup_label', 'tablespace_map']);
  // pg_control comes last, followed only by the fetched WAL (none when streamed).
  const afterControl = baseNames.slice(baseNames.indexOf('global/pg_control') + 1);
  if (withWalTar) expect(afterControl).toEqual([]);
  else expect(afterControl.length > 0 && afterControl.every((n) => /^pg_wal\/.+/.test(n)), afterControl.join()).toBe(true);
  expect(base.members.filter((x) => x.typeflag === '2')).toEqual([]);
  expect(ts.members[0]?.name).toMatch(new RegExp(`^PG_${ctx.major}_\\d+/$`));
  const byName = new Map(base.members.map((x) => [x.name, x]));
  expect(byName.get('tablespace_map')?.data?.toString()).toBe(`${ctx.tsOid} ${ctx.tsDir}\n`);
  const start = checkLabel(byName.get('backup_label')?.data?.toString() ?? '', label);
  checkManifestHeader(ctx, m, start, algorithm);
  const files = tarBackupFiles([{ scan: base, prefix: '' }, { scan: ts, prefix: `pg_tblspc/${ctx.tsOid}/` }], !withWalTar);
  expect(manifestProblems(m, files)).toEqual([]);
  return { base, ts, manifest: m };
}
