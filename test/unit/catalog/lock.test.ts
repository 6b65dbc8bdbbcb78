import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CatalogLock, isStale, processStartTime, type LockHolder, type ProcessProbe } from '../../../src/catalog/lock.js';

const holder = (over: Partial<LockHolder> = {}): LockHolder => ({ pid: 4242, host: 'h1', proc_start: '1000', started_at: 't', command: 'backup', ...over });
const probe = (alive: Record<number, string | null>): ProcessProbe => ({
  host: 'h1',
  exists: (pid) => pid in alive,
  startTime: (pid) => alive[pid] ?? null,
});

describe('lock staleness', () => {
  it('stale when the pid is gone, or runs with another start time (pid reused)', () => {
    expect(isStale(holder(), probe({}))).toBe(true);
    expect(isStale(holder(), probe({ 4242: '1000' }))).toBe(false);
    expect(isStale(holder(), probe({ 4242: '2000' }))).toBe(true);
    expect(isStale(holder({ proc_start: null }), probe({ 4242: '2000' }))).toBe(false);
    expect(isStale(holder(), probe({ 4242: null }))).toBe(false);
  });
  it('a holder on another host is never stale', () => {
    expect(isStale(holder({ host: 'h2' }), probe({}))).toBe(false);
  });
  it('this process has a start time on Linux', () => {
    if (process.platform === 'linux') expect(processStartTime(process.pid)).toMatch(/^\d+$/);
  });
});

describe('CatalogLock', () => {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'pgbb-lock-'));
    made.push(d);
    return d;
  };
  it('taken, refused to a second taker with the holder\'s pid, released', () => {
    const d = dir();
    const path = join(d, 'lock');
    const lock = CatalogLock.acquire(d, path, 'backup');
    const held = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    expect(held.pid).toBe(process.pid);
    expect(held.command).toBe('backup');
    expect(() => CatalogLock.acquire(d, path, 'delete')).toThrow(`catalog "${d}" is locked by process ${process.pid}`);
    lock.release();
    expect(existsSync(path)).toBe(false);
  });
  it('a stale lock is replaced; nothing is left aside', () => {
    const d = dir();
    const path = join(d, 'lock');
    writeFileSync(path, JSON.stringify(holder({ host: 'h1' })));
    const lock = CatalogLock.acquire(d, path, 'validate', probe({}));
    expect((JSON.parse(readFileSync(path, 'utf8')) as LockHolder).command).toBe('validate');
    lock.release();
    expect(readdirSync(d)).toEqual([]);
  });
  it('release leaves a lock that is not ours', () => {
    const d = dir();
    const path = join(d, 'lock');
    const lock = CatalogLock.acquire(d, path, 'backup');
    writeFileSync(path, JSON.stringify(holder()));
    lock.release();
    expect(existsSync(path)).toBe(true);
  });
  it('an empty lock file is not taken over (a lock is never written empty), no temporary file is left', () => {
    const d = dir();
    const path = join(d, 'lock');
    writeFileSync(path, '');
    expect(() => CatalogLock.acquire(d, path, 'backup')).toThrow(`lock file "${path}" is not valid`);
    expect(readdirSync(d)).toEqual(['lock']);
  });
  it('an unreadable lock file is an error naming it', () => {
    const d = dir();
    const path = join(d, 'lock');
    writeFileSync(path, 'garbage');
    expect(() => CatalogLock.acquire(d, path, 'backup')).toThrow(`lock file "${path}" is not valid`);
  });
});
