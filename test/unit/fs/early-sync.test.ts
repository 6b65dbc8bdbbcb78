import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarlySync, LARGE_FILE_BYTES, SYNCFS_BATCH_FILES } from '../../../src/fs/early-sync.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-early-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function files(prefix: string, n: number, bytes: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const p = join(tmp, `${prefix}${i}`);
    writeFileSync(p, Buffer.alloc(bytes, 0x41));
    return p;
  });
}

describe('EarlySync', () => {
  it('fsyncs large files at once and makes small ones durable in syncfs batches; finish() says which need no fsync', async () => {
    const warnings: string[] = [];
    const early = new EarlySync({ warn: (m) => warnings.push(m), roots: () => [tmp] });
    const large = files('large', 3, LARGE_FILE_BYTES);
    for (const f of large) early.fileDone(f, LARGE_FILE_BYTES);
    const small = files('small', SYNCFS_BATCH_FILES + 10, 100);
    for (const f of small) early.fileDone(f, 100);
    const durable = await early.finish();
    expect(warnings).toEqual([]);
    // One batch in the background at SYNCFS_BATCH_FILES, and the last one in finish().
    expect(early.batches).toBeGreaterThanOrEqual(2);
    // Two fsyncs run at once: the first two large files started at once; a queued one may be left
    // to the final pass (finish() starts no more fsyncs).
    // The last syncfs flushed the whole file system after every file was closed: nothing needs an fsync.
    for (const f of [...large, ...small, join(tmp, 'never-told')]) expect(durable(f), f).toBe(true);
  });

  it('leaves small files to the final pass when the sync program is missing, without a warning', async () => {
    const warnings: string[] = [];
    const early = new EarlySync({ warn: (m) => warnings.push(m), roots: () => [tmp], syncProgram: join(tmp, 'no-such-sync') });
    const [large] = files('large', 1, LARGE_FILE_BYTES);
    const small = files('small', 10, 10);
    early.fileDone(large as string, LARGE_FILE_BYTES);
    for (const f of small) early.fileDone(f, 10);
    const durable = await early.finish();
    expect(warnings).toEqual([]);
    expect(durable(large as string)).toBe(true);
    for (const f of small) expect(durable(f)).toBe(false);
  });

  it("warns with pg's text when a sync fails, and counts nothing it failed on as durable (no small file: no path of them is kept)", async () => {
    const warnings: string[] = [];
    // `false` exits 1: the syncfs "failed".
    const early = new EarlySync({ warn: (m) => warnings.push(m), roots: () => [tmp], syncProgram: 'false' });
    const small = files('small', 5, 10);
    for (const f of small) early.fileDone(f, 10);
    const gone = join(tmp, 'gone');
    early.fileDone(gone, LARGE_FILE_BYTES);
    const durable = await early.finish();
    expect(warnings).toContain(`could not open file "${gone}": No such file or directory`);
    expect(warnings).toContain(`could not synchronize file system for file "${tmp}": false exited with status 1`);
    for (const f of [...small, gone]) expect(durable(f)).toBe(false);
  });

  it('after a failed last syncfs, only the large files fsynced here count as durable, even when earlier batches succeeded', async () => {
    const warnings: string[] = [];
    // A sync program that succeeds the first time and fails afterwards.
    const flag = join(tmp, 'synced-once');
    const prog = join(tmp, 'sync-once');
    writeFileSync(prog, `#!/bin/sh\nif [ -e '${flag}' ]; then exit 1; fi\n: > '${flag}'\n`, { mode: 0o755 });
    const early = new EarlySync({ warn: (m) => warnings.push(m), roots: () => [tmp], syncProgram: prog });
    const [large] = files('large', 1, LARGE_FILE_BYTES);
    early.fileDone(large as string, LARGE_FILE_BYTES);
    const small = files('small', SYNCFS_BATCH_FILES, 10);
    for (const f of small) early.fileDone(f, 10);
    const durable = await early.finish();
    expect(early.batches).toBe(1);
    expect(warnings).toEqual([`could not synchronize file system for file "${tmp}": ${prog} exited with status 1`]);
    expect(durable(large as string)).toBe(true);
    for (const f of [small[0] as string, small[small.length - 1] as string]) expect(durable(f)).toBe(false);
  });

  it('writes a large file back while it is written, one write-back at a time', async () => {
    const warnings: string[] = [];
    const early = new EarlySync({ warn: (m) => warnings.push(m), roots: () => [tmp], writebackBytes: 1000 });
    const [f] = files('growing', 1, 5000);
    for (let i = 0; i < 5; i++) early.fileWritten(f as string, 1000);
    const gone = join(tmp, 'gone');
    await early.finish();
    expect(early.writebacks).toBeGreaterThanOrEqual(1);
    early.fileWritten(gone, 5000); // after finish: nothing starts
    expect(warnings).toEqual([]);
    const other = new EarlySync({ warn: (m) => warnings.push(m), roots: () => [tmp], writebackBytes: 1000 });
    other.fileWritten(gone, 5000);
    await other.stop();
    expect(warnings).toEqual([`could not open file "${gone}": No such file or directory`]);
  });

  it('starts nothing once stopped', async () => {
    const warnings: string[] = [];
    const early = new EarlySync({ warn: (m) => warnings.push(m), roots: () => [tmp] });
    await early.stop();
    early.fileDone(join(tmp, 'after-stop'), LARGE_FILE_BYTES);
    await new Promise((r) => setTimeout(r, 20));
    expect(warnings).toEqual([]);
    expect(early.batches).toBe(0);
  });
});
