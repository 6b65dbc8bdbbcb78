import { describe, expect, it } from 'vitest';
import { chainStatuses, ownStatus, type OwnStatusInput } from '../../../src/catalog/status.js';

const complete: OwnStatusInput = {
  deletingSince: null,
  markerState: 'complete',
  markerProcessRunning: undefined,
  markerReason: undefined,
  markerError: undefined,
  directoryExists: true,
  recordProcessRunning: false,
  recordError: null,
  runId: 'run-1',
  validation: null,
};

describe('status of a backup from its own files', () => {
  it('complete: DONE, then OK or CORRUPT by the last validation of the same run', () => {
    expect(ownStatus(complete)).toEqual({ status: 'DONE', detail: null });
    const at = '2026-12-04T00:00:00Z';
    expect(ownStatus({ ...complete, validation: { result: 'OK', at, run_id: 'run-1', messages: [] } }).status).toBe('OK');
    expect(ownStatus({ ...complete, validation: { result: 'CORRUPT', at, run_id: 'run-1', messages: ['checksum mismatch for file "x"'] } }))
      .toEqual({ status: 'CORRUPT', detail: 'checksum mismatch for file "x"' });
    // Validated before the backup was replaced: not validated.
    expect(ownStatus({ ...complete, validation: { result: 'OK', at, run_id: 'run-0', messages: [] } }).status).toBe('DONE');
  });

  it('in progress: RUNNING while the process lives, ERROR once it is gone', () => {
    expect(ownStatus({ ...complete, markerState: 'in progress', markerProcessRunning: true }).status).toBe('RUNNING');
    expect(ownStatus({ ...complete, markerState: 'in progress', markerProcessRunning: null }).status).toBe('RUNNING');
    expect(ownStatus({ ...complete, markerState: 'in progress', markerProcessRunning: false }))
      .toEqual({ status: 'ERROR', detail: 'interrupted: the backup process is gone' });
  });

  it('no marker yet: RUNNING while the catalog process lives, else ERROR', () => {
    expect(ownStatus({ ...complete, markerState: 'missing', recordProcessRunning: true }).status).toBe('RUNNING');
    expect(ownStatus({ ...complete, markerState: 'missing', recordProcessRunning: false }).status).toBe('ERROR');
    // Failed before the marker (could not connect): the record's error.
    expect(ownStatus({ ...complete, markerState: 'missing', recordError: 'connection refused' })).toEqual({ status: 'ERROR', detail: 'failed: connection refused' });
  });

  it('failed, foreign marker, missing directory, interrupted deletion: ERROR with the reason', () => {
    expect(ownStatus({ ...complete, markerState: 'failed', markerError: 'could not connect' })).toEqual({ status: 'ERROR', detail: 'failed: could not connect' });
    expect(ownStatus({ ...complete, markerState: 'foreign', markerReason: 'not valid JSON' }).detail).toContain('not valid JSON');
    expect(ownStatus({ ...complete, directoryExists: false })).toEqual({ status: 'ERROR', detail: 'backup directory is missing' });
    const validated = { ...complete, validation: { result: 'OK' as const, at: 'x', run_id: 'run-1', messages: [] } };
    expect(ownStatus({ ...validated, deletingSince: '2026-12-04T01:00:00Z' }).status).toBe('ERROR');
  });
});

describe('ORPHAN along parent links', () => {
  const done = { status: 'DONE' as const, detail: null };
  const ok = { status: 'OK' as const, detail: null };
  it('a child of a CORRUPT backup, and its children, are ORPHAN; a CORRUPT child stays CORRUPT', () => {
    const s = chainStatuses([
      { id: 'i2', parent: 'i1', own: ok },
      { id: 'f', parent: null, own: ok },
      { id: 'i1', parent: 'f', own: { status: 'CORRUPT', detail: 'x' } },
      { id: 'i3', parent: 'i2', own: done },
      { id: 'i4', parent: 'i3', own: { status: 'CORRUPT', detail: 'y' } },
    ]);
    expect(Object.fromEntries([...s].map(([k, v]) => [k, v.status]))).toEqual({ f: 'OK', i1: 'CORRUPT', i2: 'ORPHAN', i3: 'ORPHAN', i4: 'CORRUPT' });
    expect(s.get('i2')?.detail).toBe('parent backup i1 has status CORRUPT');
    expect(s.get('i3')?.detail).toBe('parent backup i2 has status ORPHAN');
  });
  it('a missing parent, an ERROR or RUNNING parent, a cycle: ORPHAN', () => {
    const s = chainStatuses([
      { id: 'a', parent: 'gone', own: done },
      { id: 'e', parent: null, own: { status: 'ERROR', detail: null } },
      { id: 'b', parent: 'e', own: done },
      { id: 'r', parent: null, own: { status: 'RUNNING', detail: null } },
      { id: 'c', parent: 'r', own: done },
      { id: 'x', parent: 'y', own: done },
      { id: 'y', parent: 'x', own: done },
    ]);
    expect(s.get('a')).toEqual({ status: 'ORPHAN', detail: 'parent backup gone is missing' });
    expect(['b', 'c', 'x', 'y'].map((id) => s.get(id)?.status)).toEqual(['ORPHAN', 'ORPHAN', 'ORPHAN', 'ORPHAN']);
  });
});
