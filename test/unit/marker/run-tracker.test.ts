import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statusFileFor } from '../../../src/backup/completion-marker.js';
import { PgBasebackupError, ServerError } from '../../../src/errors.js';
import { RunTracker, type CompletionDetails } from '../../../src/events/run-tracker.js';
import type { BackupEvent } from '../../../src/events/types.js';
import { defaultBackupOptions } from '../../../src/options/backup-options.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'pgbb-tracker-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SEG = 16 * 1024 * 1024;
const details = (over: Partial<CompletionDetails> = {}): CompletionDetails => ({
  startLsn: 0x2000028n,
  startTli: 1,
  endLsn: 0x2000100n,
  endTli: 1,
  walSegSize: SEG,
  bytes: 1000,
  tablespaces: [],
  systemId: '7350000000000000000',
  ...over,
});

function tracker() {
  const events: BackupEvent[] = [];
  const o = { ...defaultBackupOptions(), pgdata: '/x', label: 'lbl' };
  return { t: new RunTracker(o, (e) => events.push(e)), events };
}

describe('RunTracker', () => {
  it('result: LSN texts, WAL range (end segment = the one before the end LSN), same record as the marker', () => {
    const { t, events } = tracker();
    const d = join(root, 'a');
    mkdirSync(d);
    t.setServer('/run/pg', 5432, '17.2');
    t.setTarget(d, 0o600);
    t.beginMarker(statusFileFor(d), 0o600);
    // The end LSN exactly at a segment boundary: the last segment needed is the previous one.
    const rec = t.complete(
      details({
        startLsn: 0x2ffff00n,
        endLsn: 0x4000000n,
        endTli: 2,
        tablespaces: [
          { oid: '16385', location: '/srv/ts', sizeKb: 10n },
          { oid: null, location: null, sizeKb: 100n },
        ],
        mapLocation: (l) => `/mapped${l}`,
      }),
    );
    expect(rec.tablespaces).toEqual([{ oid: '16385', location: '/srv/ts', mapped_location: '/mapped/srv/ts' }]);
    expect(rec).toMatchObject({
      status: 'complete',
      start_lsn: '0/2FFFF00',
      end_lsn: '0/4000000',
      timeline: 1,
      wal: { start: '000000010000000000000002', end: '000000020000000000000003' },
      target: d,
      label: 'lbl',
      server: { host: '/run/pg', port: 5432, version: '17.2' },
    });
    expect(JSON.parse(readFileSync(statusFileFor(d), 'utf8'))).toEqual(rec);
    const result = events.find((e) => e.event === 'result');
    expect({ ...result, event: undefined, time: undefined }).toEqual({ ...rec, event: undefined, time: undefined });
    expect(events.map((e) => (e.event === 'phase' ? e.phase : e.event))).toEqual(['result', 'done']);
  });

  it('fail: error event with the SQLSTATE, failed marker; nothing after completion', () => {
    const { t, events } = tracker();
    const d = join(root, 'b');
    mkdirSync(d);
    t.setTarget(d, 0o600);
    t.beginMarker(statusFileFor(d), 0o600);
    const err = new PgBasebackupError('PGBB_WAL_RECEIVER', 'background process terminated unexpectedly', {
      cause: new ServerError({ severity: 'ERROR', code: '58P01', message: 'requested WAL segment has already been removed' }),
    });
    expect(t.fail(err)).toBeUndefined();
    expect(events).toMatchObject([{ event: 'error', code: 'PGBB_WAL_RECEIVER', sqlstate: '58P01' }]);
    expect(JSON.parse(readFileSync(statusFileFor(d), 'utf8'))).toMatchObject({
      status: 'failed',
      error: { code: 'PGBB_WAL_RECEIVER', message: 'background process terminated unexpectedly', sqlstate: '58P01' },
    });
    expect(t.fail(err)).toBeUndefined();
    expect(events).toHaveLength(1);
  });

  it('a listener that throws does not disturb the run', () => {
    const t = new RunTracker({ ...defaultBackupOptions(), pgdata: '-' }, () => {
      throw new Error('listener bug');
    });
    expect(() => t.phase('connecting')).not.toThrow();
    expect(t.complete(details()).target).toBeNull();
  });
});
