import { describe, expect, it } from 'vitest';
import { selectExpired, type RetentionInput } from '../../../src/catalog/retention.js';
import type { BackupStatus } from '../../../src/catalog/status.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-04T12:00:00Z');

/** A backup `daysAgo` old; IDs follow the times. */
function b(daysAgo: number, kind: 'FULL' | 'INCR', parent: RetentionInput | null, status: BackupStatus = 'OK'): RetentionInput {
  const time = NOW - daysAgo * DAY;
  const id = new Date(time).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return { id, kind, parent: parent?.id ?? null, status, time };
}

describe('retention: full backups are counted, dependents go with them', () => {
  // Two weeks: a full backup every 7 days, incrementals every day in between.
  const f1 = b(14, 'FULL', null);
  const i1a = b(13, 'INCR', f1);
  const i1b = b(12, 'INCR', i1a);
  const f2 = b(7, 'FULL', null);
  const i2a = b(6, 'INCR', f2);
  const i2b = b(5, 'INCR', i2a);
  const f3 = b(0.5, 'FULL', null);
  const all = [f1, i1a, i1b, f2, i2a, i2b, f3];

  it('--keep-full=1: every older full backup with its incrementals, dependents first', () => {
    const r = selectExpired(all, { keepFull: 1, keepDays: null }, NOW);
    expect(r.keptFulls).toEqual([f3.id]);
    expect(r.expired).toEqual([i2b, i2a, f2, i1b, i1a, f1].map((x) => x.id));
  });

  it('--keep-full=2 keeps the two newest chains', () => {
    expect(selectExpired(all, { keepFull: 2, keepDays: null }, NOW).expired).toEqual([i1b, i1a, f1].map((x) => x.id));
  });

  it('--keep-full larger than the number of full backups: nothing', () => {
    expect(selectExpired(all, { keepFull: 5, keepDays: null }, NOW).expired).toEqual([]);
  });

  it('--keep-days keeps the newest full backup before the window (to restore to its start)', () => {
    // Window of 3 days: f3 inside, f2 the newest before it.
    expect(selectExpired(all, { keepFull: null, keepDays: 3 }, NOW).expired).toEqual([i1b, i1a, f1].map((x) => x.id));
    // Window of 10 days: f2, f3 inside; f1 is the newest before it.
    expect(selectExpired(all, { keepFull: null, keepDays: 10 }, NOW).expired).toEqual([]);
    // A full backup finished exactly at the window start restores to it: nothing older is needed.
    expect(selectExpired([f1, f2], { keepFull: null, keepDays: 7 }, NOW).expired).toEqual([f1.id]);
  });

  it('both rules: a backup stays when either keeps it', () => {
    expect(selectExpired(all, { keepFull: 2, keepDays: 1 }, NOW).expired).toEqual([i1b, i1a, f1].map((x) => x.id));
    expect(selectExpired(all, { keepFull: 1, keepDays: 3 }, NOW).expired).toEqual([i1b, i1a, f1].map((x) => x.id));
  });

  it('unusable full backups are not counted; they go when older than the oldest kept full backup', () => {
    const bad = b(1, 'FULL', null, 'CORRUPT');
    const failed = b(0.2, 'FULL', null, 'ERROR');
    const r = selectExpired([...all, bad, failed], { keepFull: 1, keepDays: null }, NOW);
    // bad (CORRUPT, 1 day) is older than f3 (kept): it goes; failed (newer) stays.
    expect(r.keptFulls).toEqual([f3.id]);
    expect(r.expired).toContain(bad.id);
    expect(r.expired).not.toContain(failed.id);
  });

  it('a failed or corrupt incremental goes with its chain, ORPHANs too', () => {
    const err = b(12.5, 'INCR', f1, 'ERROR');
    const orphan = b(11, 'INCR', i1b, 'ORPHAN');
    const r = selectExpired([...all, err, orphan], { keepFull: 2, keepDays: null }, NOW);
    expect(r.expired).toEqual([orphan, i1b, err, i1a, f1].map((x) => x.id));
  });

  it('never a RUNNING backup, nor anything a kept backup depends on', () => {
    const running = b(13.5, 'INCR', f1, 'RUNNING');
    const r = selectExpired([...all, running], { keepFull: 1, keepDays: null }, NOW);
    expect(r.expired).not.toContain(running.id);
    expect(r.expired).not.toContain(f1.id); // its parent
    expect(r.expired).toEqual([i2b, i2a, f2, i1b, i1a].map((x) => x.id));
  });

  it('with no usable full backup nothing expires', () => {
    const onlyBad = [b(3, 'FULL', null, 'CORRUPT'), b(2, 'FULL', null, 'ERROR')];
    expect(selectExpired(onlyBad, { keepFull: 1, keepDays: 1 }, NOW)).toEqual({ expired: [], keptFulls: [] });
  });

  it('an orphan whose parent is gone is judged by its own time', () => {
    const lost = { ...b(10, 'INCR', null, 'ORPHAN'), parent: '20200101T000000Z' };
    const fresh = { ...b(0.1, 'INCR', null, 'ORPHAN'), parent: '20200101T000000Z' };
    const r = selectExpired([...all, lost, fresh], { keepFull: 1, keepDays: null }, NOW);
    expect(r.expired).toContain(lost.id);
    expect(r.expired).not.toContain(fresh.id);
  });
});
