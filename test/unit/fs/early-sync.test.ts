import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarlySync } from '../../../src/fs/early-sync.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-early-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('EarlySync', () => {
  it('syncs every file it is told of, a bounded number at once, and stop() waits for those in flight', async () => {
    const warnings: string[] = [];
    const early = new EarlySync((m) => warnings.push(m), 2);
    const files = Array.from({ length: 40 }, (_, i) => join(tmp, `f${i}`));
    for (const f of files) {
      writeFileSync(f, 'x'.repeat(1000));
      early.fileDone(f);
    }
    // Two in flight, the rest queued: give the pool time to work through them.
    for (let i = 0; i < 200 && early.synced < files.length; i++) await new Promise((r) => setTimeout(r, 5));
    expect(early.synced).toBe(files.length);
    await early.stop();
    expect(warnings).toEqual([]);
  });

  it("warns with pg's text for a file it cannot open, and starts nothing once stopped", async () => {
    const warnings: string[] = [];
    const early = new EarlySync((m) => warnings.push(m));
    const gone = join(tmp, 'gone');
    early.fileDone(gone);
    await early.stop();
    expect(warnings).toEqual([`could not open file "${gone}": No such file or directory`]);
    const later = join(tmp, 'later');
    writeFileSync(later, 'y');
    early.fileDone(later);
    await new Promise((r) => setTimeout(r, 20));
    expect(early.synced).toBe(1);
  });
});
