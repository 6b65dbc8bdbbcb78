import { closeSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNewFile, createNewFileHandle, openExistingFile, openExistingFileHandle, replaceFile, writeNewFile } from '../../../src/fs/create-file.js';

let dir: string;
let victim: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgbb-create-'));
  victim = join(dir, 'victim');
  writeFileSync(victim, 'precious');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('creating files without following what is already there (issue 10)', () => {
  it('createNewFile: a new file, or EEXIST for anything at the path, a symlink included', () => {
    const fd = createNewFile(join(dir, 'new'), 0o600);
    writeSync(fd, 'x');
    closeSync(fd);
    expect(readFileSync(join(dir, 'new'), 'utf8')).toBe('x');
    symlinkSync(victim, join(dir, 'link'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    for (const p of ['new', 'link', 'dangling']) expect(() => createNewFile(join(dir, p), 0o600)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });

  it('replaceFile / writeNewFile: the symlink goes, its target stays untouched; a directory is refused', () => {
    symlinkSync(victim, join(dir, 'link'));
    writeNewFile(join(dir, 'link'), 'mine', 0o600);
    expect(readFileSync(join(dir, 'link'), 'utf8')).toBe('mine');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    mkdirSync(join(dir, 'd'));
    expect(() => replaceFile(join(dir, 'd'), 0o600)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  });

  it('openExistingFile: only a regular file with one link', async () => {
    symlinkSync(victim, join(dir, 'link'));
    linkSync(victim, join(dir, 'hard'));
    expect(() => openExistingFile(join(dir, 'link'))).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    expect(() => openExistingFile(join(dir, 'hard'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    await expect(openExistingFileHandle(join(dir, 'link'))).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(openExistingFileHandle(join(dir, 'hard'))).rejects.toMatchObject({ code: 'EEXIST' });
    writeFileSync(join(dir, 'plain'), 'x');
    closeSync(openExistingFile(join(dir, 'plain')));
    await (await openExistingFileHandle(join(dir, 'plain'))).close();
    await expect(createNewFileHandle(join(dir, 'link'), 0o600)).rejects.toMatchObject({ code: 'EEXIST' });
  });
});
