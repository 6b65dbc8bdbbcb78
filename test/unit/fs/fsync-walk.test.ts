/**
 * The fsync walk (src/fs/fsync.ts): synchronous, or with files synced concurrently in the libuv pool
 * (each file's step a promise), the same steps in the same order: one per file, one per directory.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSteps } from '../../../src/backup/abort.js';
import { CONCURRENT_FSYNCS, fsyncDirRecurseSteps, fsyncPgdataSteps } from '../../../src/fs/fsync.js';

const root = mkdtempSync(join(tmpdir(), 'pgbb-fsync-walk-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tree with more files than CONCURRENT_FSYNCS in one directory, nested directories and a symlink. */
function tree(name: string): { dir: string; files: number; dirs: number } {
  const dir = join(root, name);
  mkdirSync(join(dir, 'base', '1'), { recursive: true });
  mkdirSync(join(dir, 'global'));
  const many = CONCURRENT_FSYNCS * 2 + 3;
  for (let i = 0; i < many; i++) writeFileSync(join(dir, 'base', '1', String(i)), `f${i}`);
  writeFileSync(join(dir, 'global', 'pg_control'), 'x');
  writeFileSync(join(dir, 'PG_VERSION'), '15');
  symlinkSync('/nonexistent', join(dir, 'dangling')); // not followed, not synced
  return { dir, files: many + 2, dirs: 4 };
}

describe('fsync walk', () => {
  it('concurrent: one promise per file, one synchronous step per directory, no warnings', async () => {
    const t = tree('a');
    const warnings: string[] = [];
    const steps = [...fsyncDirRecurseSteps(t.dir, (w) => warnings.push(w), false, true)];
    expect(steps.filter((s) => s instanceof Promise)).toHaveLength(t.files);
    expect(steps.filter((s) => s === undefined)).toHaveLength(t.dirs);
    await Promise.all(steps);
    expect(warnings).toEqual([]);
  });

  it('concurrent and synchronous walks take the same number of steps; runSteps drives the concurrent one', async () => {
    const t = tree('b');
    const warnings: string[] = [];
    expect([...fsyncPgdataSteps(t.dir, (w) => warnings.push(w))]).toHaveLength(t.files + t.dirs);
    let n = 0;
    const counted = function* (): Generator<unknown> {
      for (const s of fsyncPgdataSteps(t.dir, (w) => warnings.push(w), true)) {
        n++;
        yield s;
      }
    };
    await runSteps(counted(), undefined);
    expect(n).toBe(t.files + t.dirs);
    expect(warnings).toEqual([]);
  });

  it('a file that cannot be opened is a warning at its own step, in walk order', async () => {
    const dir = join(root, 'c');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a'), 'a');
    const warnings: string[] = [];
    const steps = fsyncDirRecurseSteps(join(dir, 'missing'), (w) => warnings.push(w), true, true);
    for (const s of steps) await s;
    expect(warnings).toEqual([`could not stat file "${join(dir, 'missing')}": No such file or directory`]);
  });
});
