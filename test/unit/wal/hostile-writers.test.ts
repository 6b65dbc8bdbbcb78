/** Issue 10: the WAL writers never write through a symlink (or hard link) left at a segment's path. */
import { linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileError } from '../../../src/errors.js';
import { DirWalWriter } from '../../../src/wal/dir-writer.js';
import { TarWalWriter } from '../../../src/wal/tar-writer.js';

const SEG = 1024 * 1024;
const NAME = '000000010000000000000003';
let dir: string;
let victim: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgbb-walh-'));
  victim = join(dir, 'victim');
  writeFileSync(victim, Buffer.alloc(SEG, 7));
  mkdirSync(join(dir, 'pg_wal', 'archive_status'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DirWalWriter', () => {
  it('refuses a symlink or a hard link at a segment path', async () => {
    const w = new DirWalWriter(join(dir, 'pg_wal'), SEG, 0o600);
    symlinkSync(victim, join(dir, 'pg_wal', NAME));
    await expect(w.openSegment(NAME)).rejects.toThrow(FileError);
    linkSync(victim, join(dir, 'pg_wal', '000000010000000000000004'));
    await expect(w.openSegment('000000010000000000000004')).rejects.toThrow(/could not open write-ahead log file/);
    expect(readFileSync(victim).every((b) => b === 7)).toBe(true);
  });

  it('status and history files replace a symlink instead of writing through it', async () => {
    const w = new DirWalWriter(join(dir, 'pg_wal'), SEG, 0o600);
    symlinkSync(victim, join(dir, 'pg_wal', 'archive_status', `${NAME}.done`));
    symlinkSync(victim, join(dir, 'pg_wal', '00000002.history'));
    await w.markDone(NAME);
    await w.writeFile('00000002.history', Buffer.from('1\t0/3000000\tx\n'));
    expect(readFileSync(join(dir, 'pg_wal', '00000002.history'), 'utf8')).toBe('1\t0/3000000\tx\n');
    expect(readFileSync(victim).every((b) => b === 7)).toBe(true);
  });
});

describe('TarWalWriter', () => {
  it('pg_wal.tar is a new file', async () => {
    symlinkSync(victim, join(dir, 'pg_wal.tar'));
    await expect(TarWalWriter.create(join(dir, 'pg_wal.tar'), SEG, 0o600)).rejects.toThrow('File exists');
    expect(readFileSync(victim).every((b) => b === 7)).toBe(true);
  });
});
