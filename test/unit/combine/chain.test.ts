/**
 * pg_combinebackup's checks on synthetic chains: checksum-state warning, manifests (missing, version 1,
 * system identifier, none for the final backup), tablespaces (in-place ones recreated, symlinked ones
 * needing -T), the output directory rules and cleanup.  Compared with PostgreSQL 18.6's
 * pg_combinebackup when it is present.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineBackups } from '../../../src/combine/combine.js';
import type { CombineOptions } from '../../../src/combine/options.js';
import { formatCombineError } from '../../../src/combine/report.js';
import { block, controlFile, incrementalFile, tempDir, writeBackup } from './fixtures.js';

const PG18_COMBINE = '/opt/pg18/bin/pg_combinebackup';
const havePg18 = existsSync(PG18_COMBINE);

/** Our run as the CLI prints it (the error before the cleanup lines). */
function ours(inputs: string[], output: string, extra: Partial<CombineOptions> = {}): { status: number; stderr: string } {
  let out = '';
  const p = 'pg_combinebackup';
  const log = {
    debug: () => undefined,
    info: (m: string) => { out += `${p}: ${m}\n`; },
    warning: (m: string, h?: string) => { out += `${p}: warning: ${m}\n${h === undefined ? '' : `${p}: hint: ${h}\n`}`; },
    error: (m: string) => { out += `${p}: error: ${m}\n`; },
  };
  let reported = false;
  try {
    combineBackups({
      debug: false, dryRun: false, noSync: true, output, tablespaceMappings: [], manifestChecksums: 'CRC32C', noManifest: false,
      syncMethod: 'fsync', copyMethod: 'copy', inputs, noStatusFile: true, ...extra,
    }, log, { onError: (e) => { reported = true; out += formatCombineError(e); } });
    return { status: 0, stderr: out };
  } catch (e) {
    if (!reported) out += formatCombineError(e);
    return { status: 1, stderr: out };
  }
}

function pg(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(PG18_COMBINE, ['-N', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('chain checks and tablespaces (synthetic, 18 layout)', () => {
  let root: string;
  let n = 0;
  const fresh = (name: string) => join(root, `${name}-${++n}`);
  beforeAll(() => {
    root = tempDir();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function pair(opts: { fullControl?: Buffer; incrControl?: Buffer; fullManifest?: boolean; incrManifest?: boolean; fullFiles?: Record<string, Buffer>; incrFiles?: Record<string, Buffer> } = {}): [string, string] {
    const base = fresh('chain');
    const full = join(base, 'full');
    const incr = join(base, 'incr');
    writeBackup(full, { startLsn: '0/2000028', control: opts.fullControl, manifest: opts.fullManifest, files: opts.fullFiles ?? { 'base/1/100': block('A0') } });
    writeBackup(incr, {
      startLsn: '0/4000028', incrementalFrom: { lsn: '0/2000028', tli: 1 }, control: opts.incrControl, manifest: opts.incrManifest,
      files: opts.incrFiles ?? { 'base/1/INCREMENTAL.100': incrementalFile(1, [[0, block('X0')]]) },
    });
    return [full, incr];
  }

  const compare = (inputs: string[], out: string, r: { status: number; stderr: string }, args: string[] = []) => {
    if (!havePg18) return;
    rmSync(out, { recursive: true, force: true });
    const p = pg([...args, '-o', out, ...inputs]);
    expect(r.stderr).toBe(p.stderr);
    expect(r.status).toBe(p.status);
  };

  it('the final backup has checksums and an older one not: pg\'s warning and hint, the run goes on', () => {
    const [full, incr] = pair({ fullControl: controlFile({ dataChecksumVersion: 0 }), incrControl: controlFile({ dataChecksumVersion: 1 }) });
    const out = fresh('out');
    const r = ours([full, incr], out);
    expect(r).toEqual({ status: 0, stderr: 'pg_combinebackup: warning: only some backups have checksums enabled\npg_combinebackup: hint: Disable, and optionally reenable, checksums on the output directory to avoid failures.\n' });
    compare([full, incr], out, r);
  });

  it('no warning when only the final backup lacks checksums', () => {
    const [full, incr] = pair({ fullControl: controlFile({ dataChecksumVersion: 1 }), incrControl: controlFile({ dataChecksumVersion: 0 }) });
    expect(ours([full, incr], fresh('out')).stderr).toBe('');
  });

  it('an older backup without a manifest: a warning; the final one without: no manifest can be written, output removed', () => {
    const [full, incr] = pair({ fullManifest: false });
    const out = fresh('out');
    const r = ours([full, incr], out);
    expect(r).toEqual({ status: 0, stderr: `pg_combinebackup: warning: file "${full}/backup_manifest" does not exist\n` });
    compare([full, incr], out, r);
    const [full2, incr2] = pair({ incrManifest: false });
    const out2 = fresh('out');
    const r2 = ours([full2, incr2], out2);
    expect(r2).toEqual({
      status: 1,
      stderr: `pg_combinebackup: warning: file "${incr2}/backup_manifest" does not exist\npg_combinebackup: error: cannot generate a manifest because no manifest is available for the final input backup\npg_combinebackup: removing output directory "${out2}"\n`,
    });
    expect(existsSync(out2)).toBe(false);
    compare([full2, incr2], out2, r2);
    expect(ours([full2, incr2], out2, { noManifest: true, manifestChecksums: 'NONE' }).status).toBe(0);
  });

  it('a manifest of another system, a version 1 manifest', () => {
    const [full, incr] = pair();
    const m = readFileSync(join(full, 'backup_manifest'), 'utf8');
    const other = m.replace('"System-Identifier": 7000000000000000001', '"System-Identifier": 7000000000000000002');
    // the manifest checksum must stay right for the identifier check to be reached
    const body = other.slice(0, other.indexOf('"Manifest-Checksum"'));
    writeFileSync(join(full, 'backup_manifest'), `${body}"Manifest-Checksum": "${createHash('sha256').update(body).digest('hex')}"}\n`);
    const out = fresh('out');
    const r = ours([full, incr], out);
    expect(r).toEqual({ status: 1, stderr: `pg_combinebackup: error: ${full}/global/pg_control: manifest system identifier is 7000000000000000002, but control file has 7000000000000000001\n` });
    compare([full, incr], out, r);
    const v1 = '{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [\n],\n"WAL-Ranges": [\n],\n';
    writeFileSync(join(full, 'backup_manifest'), `${v1}"Manifest-Checksum": "${createHash('sha256').update(v1).digest('hex')}"}\n`);
    const r1 = ours([full, incr], out);
    expect(r1).toEqual({ status: 1, stderr: 'pg_combinebackup: error: backup manifest version 1 does not support incremental backup\n' });
    compare([full, incr], out, r1);
  });

  it('timelines: an incremental taken after a promotion chains by (TLI, LSN) equality; a wrong TLI is refused', () => {
    const base = fresh('tli');
    const full = join(base, 'full');
    const incr = join(base, 'incr');
    writeBackup(full, { startLsn: '0/2000028', tli: 1, files: { 'base/1/100': block('A0') } });
    writeBackup(incr, { startLsn: '0/5000028', tli: 2, incrementalFrom: { lsn: '0/2000028', tli: 1 }, files: { 'base/1/INCREMENTAL.100': incrementalFile(1, []) } });
    expect(ours([full, incr], fresh('out'))).toEqual({ status: 0, stderr: '' });
    const bad = join(base, 'bad');
    writeBackup(bad, { startLsn: '0/5000028', tli: 2, incrementalFrom: { lsn: '0/2000028', tli: 2 }, files: { 'base/1/INCREMENTAL.100': incrementalFile(1, []) } });
    const out = fresh('out');
    const r = ours([full, bad], out);
    expect(r).toEqual({ status: 1, stderr: `pg_combinebackup: error: backup at "${full}" starts on timeline 1, but expected 2\n` });
    compare([full, bad], out, r);
  });

  it('the output directory: an empty one is used and emptied again on failure; a non-empty one is refused', () => {
    const [full, incr] = pair({ incrManifest: false });
    const out = fresh('out');
    mkdirSync(out);
    const r = ours([full, incr], out);
    expect(r.stderr).toContain(`pg_combinebackup: removing contents of output directory "${out}"\n`);
    expect(existsSync(out)).toBe(true);
    writeFileSync(join(out, 'x'), '');
    const r2 = ours([full, incr], out);
    expect(r2).toEqual({ status: 1, stderr: `pg_combinebackup: warning: file "${incr}/backup_manifest" does not exist\npg_combinebackup: error: directory "${out}" exists but is not empty\n` });
    if (havePg18) expect(pg(['-o', out, full, incr]).stderr).toBe(r2.stderr);
  });

  it('tablespaces: an in-place one is recreated; a symlinked one needs -T, then becomes a link to NEWDIR', () => {
    const files = (tag: string, incremental: boolean): Record<string, Buffer> => ({
      'pg_tblspc/16400/PG_18_202506291/1/500': incremental ? Buffer.alloc(0) : block(`${tag}0`),
    });
    const base = fresh('ts');
    const full = join(base, 'full');
    const incr = join(base, 'incr');
    writeBackup(full, { startLsn: '0/2000028', files: { 'base/1/100': block('A0'), ...files('T', false) } });
    writeBackup(incr, {
      startLsn: '0/4000028', incrementalFrom: { lsn: '0/2000028', tli: 1 },
      files: { 'base/1/INCREMENTAL.100': incrementalFile(1, []), 'pg_tblspc/16400/PG_18_202506291/1/INCREMENTAL.500': incrementalFile(2, [[1, block('U1')]]) },
    });
    rmSync(join(incr, 'pg_tblspc/16400/PG_18_202506291/1/500'), { force: true });
    const out = fresh('out');
    const r = ours([full, incr], out);
    expect(r).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(join(out, 'pg_tblspc/16400/PG_18_202506291/1/500')).equals(Buffer.concat([block('T0'), block('U1')]))).toBe(true);
    expect(readFileSync(join(out, 'backup_manifest'), 'utf8')).toContain('"Path": "pg_tblspc/16400/PG_18_202506291/1/500"');

    // The same tablespace as a symbolic link in the final backup (and in the full one).
    const links = fresh('links');
    const fullLoc = join(links, 'full-ts');
    const incrLoc = join(links, 'incr-ts');
    for (const [dir, loc] of [[full, fullLoc], [incr, incrLoc]] as const) {
      mkdirSync(loc, { recursive: true });
      cpSync(join(dir, 'pg_tblspc/16400'), loc, { recursive: true });
      rmSync(join(dir, 'pg_tblspc/16400'), { recursive: true });
      symlinkSync(loc, join(dir, 'pg_tblspc/16400'));
    }
    const out2 = fresh('out');
    const r2 = ours([full, incr], out2);
    expect(r2).toEqual({ status: 1, stderr: `pg_combinebackup: error: tablespace at "${incrLoc}" has no tablespace mapping\n` });
    const mapped = join(links, 'out-ts');
    const r3 = ours([full, incr], out2, { tablespaceMappings: [{ oldDir: incrLoc, newDir: join(links, 'ignored') }, { oldDir: incrLoc, newDir: mapped }] });
    expect(r3).toEqual({ status: 0, stderr: '' });
    expect(readlinkSync(join(out2, 'pg_tblspc/16400'))).toBe(mapped);
    expect(readFileSync(join(mapped, 'PG_18_202506291/1/500')).equals(Buffer.concat([block('T0'), block('U1')]))).toBe(true);
    if (havePg18) {
      const theirs = fresh('out');
      const p = pg(['-o', theirs, '-T', `${incrLoc}=${join(links, 'ignored2')}`, '-T', `${incrLoc}=${join(links, 'pg-ts')}`, full, incr]);
      expect(p).toEqual({ status: 0, stderr: '' });
      expect(readFileSync(join(links, 'pg-ts/PG_18_202506291/1/500')).equals(readFileSync(join(mapped, 'PG_18_202506291/1/500')))).toBe(true);
    }
  });
});

describe('-P/--progress (beyond pg)', () => {
  it('counts the files the walk writes and reports them', async () => {
    const { countFinalBackupFiles, CombineProgress } = await import('../../../src/combine/progress.js');
    const root = tempDir();
    try {
      const full = join(root, 'full');
      writeBackup(full, { startLsn: '0/2000028', files: { 'base/1/100': block('A0'), 'base/1/101': Buffer.alloc(3) } });
      // PG_VERSION, global/pg_control, base/1/100, base/1/101 (backup_label and backup_manifest are not walked)
      expect(countFinalBackupFiles(full)).toBe(4);
      let out = '';
      let t = 0;
      const p = new CombineProgress(4, (s) => { out += s; }, false, () => (t += 600));
      for (let i = 0; i < 4; i++) p.file(1024);
      p.finish();
      expect(out).toBe('pg_combinebackup: 2/4 files (50%), 2.00 kB written\npg_combinebackup: 4/4 files (100%), 4.00 kB written\npg_combinebackup: 4/4 files (100%), 4.00 kB written\n');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
