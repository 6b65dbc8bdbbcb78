/**
 * The WAL writers: a directory (pg_wal/ in plain format) and pg_wal.tar (tar format), checked on disk;
 * pg_wal.tar also with GNU tar.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeTarHeader } from '../../../src/archive/tar-header.js';
import { DirWalWriter } from '../../../src/wal/dir-writer.js';
import { TarWalWriter } from '../../../src/wal/tar-writer.js';

const SEG = 1024 * 1024;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgbb-walw-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DirWalWriter', () => {
  it('creates segments pre-padded to wal_segment_size, writes at offsets, marks done, writes history files', async () => {
    const w = new DirWalWriter(dir, SEG, 0o600);
    const seg = await w.openSegment('000000010000000000000003');
    await seg.write(0, Buffer.from('abc'));
    await seg.write(SEG - 2, Buffer.from('yz'));
    await seg.close();
    await w.markDone('000000010000000000000003');
    await w.writeFile('00000002.history', Buffer.from('1\t0/3000000\tx\n'));
    await w.finish();
    const f = join(dir, '000000010000000000000003');
    expect(statSync(f).size).toBe(SEG);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const b = readFileSync(f);
    expect(b.subarray(0, 3).toString()).toBe('abc');
    expect(b.subarray(SEG - 2).toString()).toBe('yz');
    expect(b.subarray(3, SEG - 2).every((x) => x === 0)).toBe(true);
    expect(existsSync(join(dir, 'archive_status', '000000010000000000000003.done'))).toBe(true);
    expect(readFileSync(join(dir, '00000002.history'), 'utf8')).toBe('1\t0/3000000\tx\n');
  });

  it('reuses an existing empty or full-size file and refuses any other size (pg\'s text)', async () => {
    const w = new DirWalWriter(dir, SEG, 0o600);
    writeFileSync(join(dir, 'A'), '');
    writeFileSync(join(dir, 'B'), Buffer.alloc(SEG, 7));
    writeFileSync(join(dir, 'C'), Buffer.alloc(100));
    await (await w.openSegment('A')).close();
    expect(statSync(join(dir, 'A')).size).toBe(SEG);
    const b = await w.openSegment('B');
    await b.write(0, Buffer.from([1]));
    await b.close();
    const data = readFileSync(join(dir, 'B'));
    expect(data[0]).toBe(1);
    expect(data[1]).toBe(7);
    await expect(w.openSegment('C')).rejects.toThrow(`write-ahead log file "C" has 100 bytes, should be 0 or ${SEG}`);
  });

  it('abort() closes what is open', async () => {
    const w = new DirWalWriter(dir, SEG, 0o600);
    await w.openSegment('000000010000000000000001');
    await w.abort();
  });
});

describe('TarWalWriter (pg_wal.tar)', () => {
  it('lays out segments at full size, done marks and history files; GNU tar lists it with the right sizes', async () => {
    const path = join(dir, 'pg_wal.tar');
    const w = await TarWalWriter.create(path, SEG, 0o600);
    const history = Buffer.from('1\t0/3000000\tno recovery target specified\n');
    await w.writeFile('00000002.history', history);
    await w.markDone('00000002.history');
    const s1 = await w.openSegment('000000020000000000000003');
    await s1.write(0, Buffer.alloc(SEG, 0x41));
    await s1.close();
    await w.markDone('000000020000000000000003');
    const s2 = await w.openSegment('000000020000000000000004');
    await s2.write(10, Buffer.from('tail'));
    await s2.close();
    await w.finish();

    const list = spawnSync('tar', ['-tvf', path, '--numeric-owner'], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    const rows = list.stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[0], r[1], r[2], r[5]])).toEqual([
      ['-rw-------', '0/0', String(history.length), '00000002.history'],
      ['-rw-------', '0/0', '0', 'archive_status/00000002.history.done'],
      ['-rw-------', '0/0', String(SEG), '000000020000000000000003'],
      ['-rw-------', '0/0', '0', 'archive_status/000000020000000000000003.done'],
      ['-rw-------', '0/0', String(SEG), '000000020000000000000004'],
    ]);
    // 512-byte header + data padded to 512 per member, then exactly two zero blocks.
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(512 + 512 + 512 + (512 + SEG) + 512 + (512 + SEG) + 1024);
    expect(bytes.subarray(bytes.length - 1024).every((b) => b === 0)).toBe(true);
    const h = decodeTarHeader(bytes.subarray(0, 512));
    expect(h.name).toBe('00000002.history');
    const out = spawnSync('tar', ['-xOf', path, '000000020000000000000004']);
    expect(out.stdout.length).toBe(SEG);
    expect(out.stdout.subarray(10, 14).toString()).toBe('tail');
  });
});
