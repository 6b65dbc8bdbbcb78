import { describe, expect, it } from 'vitest';
import { compareBackupIds, isBackupId, newBackupId } from '../../../src/catalog/backup-id.js';

describe('backup IDs', () => {
  const t = new Date('2026-12-04T10:15:00.123Z');
  it('the UTC start second, sortable', () => {
    expect(newBackupId(t, new Set())).toBe('20261204T101500Z');
    expect(isBackupId('20261204T101500Z')).toBe(true);
    expect(isBackupId('20261204T101500Z-2')).toBe(true);
    expect(isBackupId('20261204T101500')).toBe(false);
    expect(isBackupId('../x')).toBe(false);
  });
  it('a collision gets -2, -3 ...; any file of that name counts', () => {
    expect(newBackupId(t, new Set(['20261204T101500Z']))).toBe('20261204T101500Z-2');
    expect(newBackupId(t, new Set(['20261204T101500Z.catalog.json']))).toBe('20261204T101500Z-2');
    expect(newBackupId(t, new Set(['20261204T101500Z', '20261204T101500Z-2.pg-basebackup-status.json']))).toBe('20261204T101500Z-3');
    expect(newBackupId(t, new Set(['20261204T101459Z', '20261204T101501Z']))).toBe('20261204T101500Z');
  });
  it('order: time, then suffix as a number', () => {
    const ids = ['20261204T101500Z-10', '20261204T101501Z', '20261204T101500Z-2', '20261204T101500Z', '20261203T235959Z'];
    expect([...ids].sort(compareBackupIds)).toEqual(['20261203T235959Z', '20261204T101500Z', '20261204T101500Z-2', '20261204T101500Z-10', '20261204T101501Z']);
  });
});
