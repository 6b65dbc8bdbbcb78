/**
 * Reconstruction by the block-source rules of reconstruct.c, on synthetic chains with RELSEG_SIZE = 4
 * blocks (from a synthetic pg_control): multi-segment relations, truncation then growth, older
 * incrementals only below the newest TBL, the first full file ending the search, zeros, the
 * whole-file shortcut with its manifest checksum reused, and the errors.  When PostgreSQL 18.6's
 * pg_combinebackup is in /opt/pg18, the same chains are combined by it too and everything (files and
 * the -d output) must be equal.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineBackups, combineBackupsAsync } from '../../../src/combine/combine.js';
import type { CombineOptions } from '../../../src/combine/options.js';
import type { CombineLogger } from '../../../src/combine/report.js';
import { formatCombineError } from '../../../src/combine/report.js';
import { parseManifest } from '../../../src/manifest/parse.js';
import { block, BLCKSZ, controlFile, incrementalFile, tempDir, writeBackup } from './fixtures.js';

const PG18_COMBINE = '/opt/pg18/bin/pg_combinebackup';
const havePg18 = existsSync(PG18_COMBINE);
const control = controlFile({ relsegSize: 4 });

function options(inputs: string[], output: string, extra: Partial<CombineOptions> = {}): CombineOptions {
  return {
    debug: false, dryRun: false, noSync: true, output, tablespaceMappings: [], manifestChecksums: 'CRC32C', noManifest: false,
    syncMethod: 'fsync', copyMethod: 'copy', inputs, noStatusFile: true, ...extra,
  };
}

function capture(debug: boolean): { log: CombineLogger; text: () => string } {
  let out = '';
  const p = 'pg_combinebackup';
  return {
    log: {
      debug: (m) => { if (debug) out += `${p}: ${m}\n`; },
      info: (m) => { out += `${p}: ${m}\n`; },
      warning: (m, h) => { out += `${p}: warning: ${m}\n${h === undefined ? '' : `${p}: hint: ${h}\n`}`; },
      error: (m) => { out += `${p}: error: ${m}\n`; },
    },
    text: () => out,
  };
}

/** Run ours in-process; stderr as the CLI would print it. */
function runOurs(inputs: string[], output: string, extra: Partial<CombineOptions> = {}): { ok: boolean; stderr: string } {
  const c = capture(extra.debug === true);
  let errText = '';
  try {
    combineBackups(options(inputs, output, extra), c.log, { onError: (e) => { errText = formatCombineError(e); c.log.info(''); } });
    return { ok: true, stderr: c.text() };
  } catch (e) {
    const t = c.text();
    // onError printed nothing itself: put the error where pg prints it (before the cleanup lines).
    const marker = 'pg_combinebackup: \n';
    return { ok: false, stderr: t.includes(marker) ? t.replace(marker, errText) : t + formatCombineError(e) };
  }
}

/** The same through the CLI's run (combineBackupsAsync: the final fsync 32 files at a time). */
async function runOursAsync(inputs: string[], output: string, extra: Partial<CombineOptions> = {}): Promise<{ ok: boolean; stderr: string }> {
  const c = capture(extra.debug === true);
  let errText = '';
  try {
    await combineBackupsAsync(options(inputs, output, extra), c.log, { onError: (e) => { errText = formatCombineError(e); c.log.info(''); } });
    return { ok: true, stderr: c.text() };
  } catch (e) {
    const t = c.text();
    const marker = 'pg_combinebackup: \n';
    return { ok: false, stderr: t.includes(marker) ? t.replace(marker, errText) : t + formatCombineError(e) };
  }
}

/** Every file below `dir` (relative path -> bytes), the manifest without its times and checksum. */
function tree(dir: string, rel = ''): Map<string, string> {
  const m = new Map<string, string>();
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel === '' ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) for (const [k, v] of tree(dir, p)) m.set(k, v);
    else if (p === 'backup_manifest') m.set(p, readFileSync(join(dir, p), 'utf8').replace(/"Last-Modified": "[^"]*"/g, '').replace(/"Manifest-Checksum": "\w+"/, ''));
    else m.set(p, readFileSync(join(dir, p)).toString('hex'));
  }
  return m;
}

const cat = (...bs: Buffer[]) => Buffer.concat(bs);
const zero = Buffer.alloc(BLCKSZ);

describe('reconstruction on a synthetic chain (RELSEG_SIZE 4)', () => {
  let root: string;
  let full: string;
  let incr1: string;
  let incr2: string;
  beforeAll(() => {
    root = tempDir();
    full = join(root, 'full');
    incr1 = join(root, 'incr1');
    incr2 = join(root, 'incr2');
    writeBackup(full, {
      startLsn: '0/2000028',
      control,
      files: {
        'base/1/100': cat(block('A0'), block('A1'), block('A2'), block('A3')),
        'base/1/100.1': cat(block('B0'), block('B1'), block('B2'), block('B3')),
        'base/1/100.2': cat(block('C0'), block('C1')),
        'base/1/200': cat(block('D0'), block('D1')),
        'base/1/300': cat(block('E0')),
        'global/400': cat(block('G0'), block('G1')),
        'INCREMENTAL.config': Buffer.from('not a relation\n'),
      },
      fakeChecksums: { 'base/1/200': 'deadbeef' },
    });
    writeBackup(incr1, {
      startLsn: '0/4000028',
      incrementalFrom: { lsn: '0/2000028', tli: 1 },
      control,
      files: {
        'base/1/INCREMENTAL.100': incrementalFile(4, [[1, block('X1')]]),
        'base/1/INCREMENTAL.100.1': incrementalFile(4, []),
        // truncated to 1 block, then block 2 written: block 1 must be zeros
        'base/1/INCREMENTAL.100.2': incrementalFile(1, [[2, block('Z2')]]),
        'base/1/INCREMENTAL.200': incrementalFile(2, []),
        'base/1/300': cat(block('F0'), block('F1')),
        'global/INCREMENTAL.400': incrementalFile(2, [[0, block('H0')]]),
        'INCREMENTAL.config': Buffer.from('copied as it is\n'),
      },
    });
    writeBackup(incr2, {
      startLsn: '0/6000028',
      incrementalFrom: { lsn: '0/4000028', tli: 1 },
      control,
      files: {
        'base/1/INCREMENTAL.100': incrementalFile(4, [[3, block('Y3')]]),
        'base/1/INCREMENTAL.100.1': incrementalFile(2, []),
        'base/1/INCREMENTAL.100.2': incrementalFile(3, []),
        // nothing changed since the full backup: copied whole, its checksum taken from the full's manifest
        'base/1/INCREMENTAL.200': incrementalFile(2, []),
        // grown past the older full file: block 2 zero
        'base/1/INCREMENTAL.300': incrementalFile(3, [[3, block('W3')]]),
        // only incrementals below TBL are used; H0 from incr1, G1 from the full backup
        'global/INCREMENTAL.400': incrementalFile(2, [[4, block('J4')]]),
        'INCREMENTAL.config': Buffer.from('copied as it is, again\n'),
      },
    });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('builds every segment by pg\'s rules', () => {
    const out = join(root, 'out');
    const r = runOurs([full, incr1, incr2], out);
    expect(r.stderr).toBe('');
    expect(r.ok).toBe(true);
    const f = (p: string) => readFileSync(join(out, p));
    expect(f('base/1/100').equals(cat(block('A0'), block('X1'), block('A2'), block('Y3')))).toBe(true);
    // 100.1: TBL 2 now, nothing listed anywhere: the full file's first two blocks
    expect(f('base/1/100.1').equals(cat(block('B0'), block('B1')))).toBe(true);
    // 100.2: TBL 3; incr1's Z2 (below 3); block 1 from the full file even though incr1 had truncated it
    // (older TBLs are not consulted), block 0 from the full file
    expect(f('base/1/100.2').equals(cat(block('C0'), block('C1'), block('Z2')))).toBe(true);
    expect(f('base/1/200').equals(cat(block('D0'), block('D1')))).toBe(true);
    expect(f('base/1/300').equals(cat(block('F0'), block('F1'), zero, block('W3')))).toBe(true);
    expect(f('global/400').equals(cat(block('H0'), block('G1'), zero, zero, block('J4')))).toBe(true);
    expect(f('INCREMENTAL.config').toString()).toBe('copied as it is, again\n');
    expect(f('backup_label').toString()).not.toContain('INCREMENTAL');
    const m = parseManifest(f('backup_manifest'));
    const byPath = new Map(m.files.map((x) => [x.path, x]));
    expect(byPath.get('base/1/200')?.checksum).toBe('deadbeef'); // reused, as pg does, not recomputed
    expect(byPath.get('base/1/100')?.size).toBe(4 * BLCKSZ);
    expect(m.files[0]?.path).toBe('backup_label');
    expect(m.walRanges).toEqual([{ timeline: 1, startLsn: 0x2000028n, endLsn: 0x2000100n }]);
  });

  it('the CLI\'s run writes the same files, manifest and messages, with and without fsync', async () => {
    for (const noSync of [true, false]) {
      const a = join(root, 'sync-run');
      const b = join(root, 'async-run');
      const ra = runOurs([full, incr1, incr2], a, { noSync });
      const rb = await runOursAsync([full, incr1, incr2], b, { noSync });
      expect(rb).toEqual(ra);
      expect(tree(b)).toEqual(tree(a));
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('the chain full + incr1 alone', () => {
    const out = join(root, 'out1');
    expect(runOurs([full, incr1], out).ok).toBe(true);
    const f = (p: string) => readFileSync(join(out, p));
    expect(f('base/1/100.2').equals(cat(block('C0'), zero, block('Z2')))).toBe(true);
    expect(f('base/1/100.1').equals(cat(block('B0'), block('B1'), block('B2'), block('B3')))).toBe(true);
  });

  it('dry run: writes nothing, still checks that sources are long enough', () => {
    const out = join(root, 'dry');
    expect(runOurs([full, incr1, incr2], out, { dryRun: true }).ok).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  it.skipIf(!havePg18)('PostgreSQL 18\'s pg_combinebackup gives the same files and the same -d output', () => {
    for (const extra of [[], ['-n'], ['--copy-file-range'], ['--manifest-checksums=SHA256']]) {
      const out = join(root, 'cmp');
      const theirs = join(root, 'cmp-pg');
      const pg = spawnSync(PG18_COMBINE, ['-d', '-N', ...extra, '-o', out, full, incr1, incr2], { encoding: 'utf8' });
      expect(pg.status).toBe(0);
      if (existsSync(out)) spawnSync('mv', [out, theirs]);
      const ours = runOurs([full, incr1, incr2], out, {
        debug: true, dryRun: extra.includes('-n'),
        copyMethod: extra.includes('--copy-file-range') ? 'copy-file-range' : 'copy',
        manifestChecksums: extra.includes('--manifest-checksums=SHA256') ? 'SHA256' : 'CRC32C',
      });
      expect(ours.stderr).toBe(pg.stderr);
      if (!extra.includes('-n')) {
        for (const p of ['base/1/100', 'base/1/100.1', 'base/1/100.2', 'base/1/200', 'base/1/300', 'global/400', 'backup_label', 'INCREMENTAL.config']) {
          expect(readFileSync(join(out, p)).equals(readFileSync(join(theirs, p))), p).toBe(true);
        }
        const norm = (d: string) => readFileSync(join(d, 'backup_manifest'), 'utf8').replace(/"Last-Modified": "[^"]*"/g, '').replace(/"Manifest-Checksum": "\w+"/, '');
        expect(norm(out)).toBe(norm(theirs));
      }
      rmSync(out, { recursive: true, force: true });
      rmSync(theirs, { recursive: true, force: true });
    }
  });
});

describe('reconstruction errors', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function chain(name: string, incrFiles: Record<string, Buffer>, fullFiles: Record<string, Buffer> = { 'base/1/100': cat(block('A0'), block('A1')) }): [string, string] {
    const full = join(root, name, 'full');
    const incr = join(root, name, 'incr');
    writeBackup(full, { startLsn: '0/2000028', control, files: fullFiles });
    writeBackup(incr, { startLsn: '0/4000028', incrementalFrom: { lsn: '0/2000028', tli: 1 }, control, files: incrFiles });
    return [full, incr];
  }

  // The RELSEG_SIZE checks use our synthetic 4 blocks; pg's binary has 131072 compiled in (not compared).
  const cases: [string, Record<string, Buffer>, (f: string) => string, Record<string, Buffer>?][] = [
    ['bad magic', { 'base/1/INCREMENTAL.100': incrementalFile(2, [], { magic: 0xdeadbeef }) }, (f) => `file "${f}" has bad incremental magic number (0xdeadbeef, expected 0xd3ae1f0d)`],
    ['block count beyond RELSEG_SIZE', { 'base/1/INCREMENTAL.100': incrementalFile(2, [], { count: 5 }) }, (f) => `file "${f}" has block count 5 in excess of segment size 4`],
    ['TBL beyond RELSEG_SIZE', { 'base/1/INCREMENTAL.100': incrementalFile(5, []) }, (f) => `file "${f}" has truncation block length 5 in excess of segment size 4`],
    ['header cut short', { 'base/1/INCREMENTAL.100': incrementalFile(2, [[0, block('X')]]).subarray(0, 14) }, (f) => `could not read file "${f}": read 2 of 4`],
    ['no full file anywhere', { 'base/1/INCREMENTAL.100': incrementalFile(2, []) }, () => `full backup contains unexpected incremental file "${join(root, 'no full file anywhere', 'full', 'base/1/INCREMENTAL.100')}"`, { 'base/1/INCREMENTAL.100': incrementalFile(2, []) }],
    ['block data missing', { 'base/1/INCREMENTAL.100': incrementalFile(2, [[0, block('X')]]).subarray(0, BLCKSZ + 100) }, (f) => `could not read from file "${f}", offset ${BLCKSZ}: read 100 of ${BLCKSZ}`],
    // Read in one window with the full file's blocks around it: the block pg fails on first is named.
    ['block data missing between full-file blocks', { 'base/1/INCREMENTAL.100': incrementalFile(4, [[1, block('X1')], [2, block('X2')]]).subarray(0, 2 * BLCKSZ + 100) }, (f) => `could not read from file "${f}", offset ${2 * BLCKSZ}: read 100 of ${BLCKSZ}`, { 'base/1/100': cat(block('A0'), block('A1'), block('A2'), block('A3')) }],
  ];
  for (const [title, incrFiles, message, fullFiles] of cases) {
    it(`${title}: pg's message, the output directory removed`, async () => {
      const [full, incr] = chain(title, incrFiles, fullFiles);
      const out = join(root, title, 'out');
      const r = runOurs([full, incr], out);
      expect(r.ok).toBe(false);
      const f = join(incr, 'base/1/INCREMENTAL.100');
      expect(r.stderr).toBe(`pg_combinebackup: error: ${message(f)}\npg_combinebackup: removing output directory "${out}"\n`);
      expect(existsSync(out)).toBe(false);
      if (havePg18 && !title.includes('RELSEG_SIZE')) {
        const pg = spawnSync(PG18_COMBINE, ['-N', '-o', out, full, incr], { encoding: 'utf8' });
        expect(pg.stderr).toBe(r.stderr);
      }
      // the same through the CLI's run
      expect(await runOursAsync([full, incr], out)).toEqual(r);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('the CLI\'s run: the same warnings in walk order, the same failure after them', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 30; i++) files[`base/1/${500 + i}`] = block(`P${i}`);
    const [full, incr] = chain('order', { ...files, 'base/1/INCREMENTAL.100': incrementalFile(2, [[0, block('X')]]) });
    // files the manifest does not list, and a symbolic link, among the others
    for (const i of [3, 17, 29]) writeFileSync(join(incr, `base/1/9${i}`), block(`U${i}`));
    symlinkSync('/nonexistent', join(incr, 'base/1/link'));
    const a = runOurs([full, incr], join(root, 'order', 'a'));
    const b = await runOursAsync([full, incr], join(root, 'order', 'b'));
    expect(a.ok).toBe(true);
    expect(b.stderr).toBe(a.stderr);
    expect(a.stderr.split('\n').filter((l) => l.includes('warning')).length).toBe(4);
    expect(tree(join(root, 'order', 'b'))).toEqual(tree(join(root, 'order', 'a')));
    // now the incremental file is corrupt: the warnings of the files before it, then its error
    writeFileSync(join(incr, 'base/1/INCREMENTAL.100'), incrementalFile(2, [], { magic: 0xdeadbeef }));
    const c = runOurs([full, incr], join(root, 'order', 'c'));
    const d = await runOursAsync([full, incr], join(root, 'order', 'c'));
    expect(c.ok).toBe(false);
    expect(d).toEqual(c);
    expect(existsSync(join(root, 'order', 'c'))).toBe(false);
  });

  it('dry run finds a source that is too short', () => {
    const [full, incr] = chain('short', { 'base/1/INCREMENTAL.100': incrementalFile(2, [[0, block('X')]]) });
    truncateSync(join(incr, 'base/1/INCREMENTAL.100'), BLCKSZ + 10);
    const out = join(root, 'short', 'out');
    const r = runOurs([full, incr], out, { dryRun: true });
    expect(r.ok).toBe(false);
    expect(r.stderr).toBe(`pg_combinebackup: error: file "${join(incr, 'base/1/INCREMENTAL.100')}" is too short: expected ${2 * BLCKSZ}, found ${BLCKSZ + 10}\n`);
  });

  it('a 17 chain is combined with 17\'s pg_control layout; mixing 17 and 18 is refused', () => {
    const c17 = controlFile({ version: 1700, relsegSize: 4 });
    const full = join(root, 'v17', 'full');
    const incr = join(root, 'v17', 'incr');
    writeBackup(full, { startLsn: '0/2000028', control: c17, files: { 'base/1/100': cat(block('A0'), block('A1')) } });
    writeBackup(incr, { startLsn: '0/4000028', incrementalFrom: { lsn: '0/2000028', tli: 1 }, control: c17, files: { 'base/1/INCREMENTAL.100': incrementalFile(2, [[1, block('X1')]]) } });
    const out = join(root, 'v17', 'out');
    expect(runOurs([full, incr], out).ok).toBe(true);
    expect(readFileSync(join(out, 'base/1/100')).equals(cat(block('A0'), block('X1')))).toBe(true);
    writeFileSync(join(full, 'global/pg_control'), controlFile({ version: 1800, relsegSize: 4 }));
    const r = runOurs([full, incr], join(root, 'v17', 'out2'));
    expect(r.stderr).toBe(`pg_combinebackup: error: ${full}/global/pg_control: unexpected control file version\n`);
  });
});
