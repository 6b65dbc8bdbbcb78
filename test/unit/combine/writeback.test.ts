/** Early writeback of the combine's output: when the syncs are started (the syncs themselves are hints). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Writeback, WRITEBACK_BYTES } from '../../../src/combine/writeback.js';

class Recorded extends Writeback {
  kicks: string[] = [];
  override kick(path: string): void {
    this.kicks.push(path);
  }
}

describe('Writeback', () => {
  it('syncs a file every WRITEBACK_BYTES written, and at its end what is left (from 1 MiB on)', () => {
    const w = new Recorded();
    const win = 256 * 1024;
    for (let n = 0; n < (2 * WRITEBACK_BYTES) / win + 8; n++) w.written('big', win);
    expect(w.kicks).toEqual(['big', 'big']);
    w.done('big', 2 * WRITEBACK_BYTES + 8 * win); // 2 MiB left
    expect(w.kicks).toEqual(['big', 'big', 'big']);
    w.written('small', 4 * win); // 1 MiB
    w.done('small', 4 * win);
    w.done('copied whole', 3 * 1024 * 1024);
    w.done('tiny', 8192);
    w.written('partial', win);
    w.done('partial', win);
    expect(w.kicks).toEqual(['big', 'big', 'big', 'small', 'copied whole']);
  });

  it('a real kick on an existing file and on a missing one does not throw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgbb-writeback-'));
    try {
      writeFileSync(join(dir, 'f'), 'x');
      const w = new Writeback();
      w.kick(join(dir, 'f'));
      w.kick(join(dir, 'missing'));
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
