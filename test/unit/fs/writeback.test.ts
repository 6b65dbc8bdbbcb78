import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWriter } from '../../../src/archive/file-writer.js';
import { FdWriteback } from '../../../src/fs/writeback.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-wb-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('FdWriteback', () => {
  it('syncs once enough was written and settles without a failure', async () => {
    const fd = openSync(join(tmp, 'f'), 'w');
    const wb = new FdWriteback(fd, 1000);
    writeSync(fd, Buffer.alloc(600));
    wb.wrote(600);
    writeSync(fd, Buffer.alloc(600));
    wb.wrote(600);
    expect(await wb.settle()).toBeUndefined();
    closeSync(fd);
  });

  it('keeps the failure of a write-back for the writer to report', async () => {
    // A descriptor that cannot be synced: EBADF once it is closed (as EIO would come from a disk).
    const fd = openSync(join(tmp, 'g'), 'w');
    closeSync(fd);
    const wb = new FdWriteback(fd, 10);
    wb.wrote(100);
    expect((await wb.settle())?.code).toBe('EBADF');
  });

  it('FileWriter with write-back: the file is complete and the writer finishes', async () => {
    const path = join(tmp, 'base.tar');
    const w = new FileWriter({ path, mode: 0o600 }, { writebackBytes: 50_000 });
    const data = Buffer.alloc(300_000, 0x42);
    for (let off = 0; off < data.length; off += 20_000) w.write(data.subarray(off, off + 20_000));
    await w.finish();
    expect(readFileSync(path).equals(data)).toBe(true);
  });
});
