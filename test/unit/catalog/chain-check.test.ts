import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MarkerState } from '../../../src/backup/marker-state.js';
import { checkChainLink, labelField } from '../../../src/catalog/chain-check.js';
import type { BackupEntry } from '../../../src/catalog/inventory.js';
import { manifestChecksumOf } from '../../../src/manifest/parse.js';

function manifest(sysid: string): Buffer {
  const body = `{ "PostgreSQL-Backup-Manifest-Version": 2,
"System-Identifier": ${sysid},
"Files": [
],
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000138" }
],
`;
  return Buffer.from(`${body}"Manifest-Checksum": "${manifestChecksumOf(body)}"}\n`);
}

const LABEL = 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000080\nSTART TIMELINE: 1\n';

function entry(root: string, id: string, kind: 'FULL' | 'INCR', parent: string | null, label: string, extra: Partial<BackupEntry> = {}): BackupEntry {
  const dir = join(root, id);
  mkdirSync(dir);
  writeFileSync(join(dir, 'backup_label'), label);
  const manifestBytes = manifest('7440000000000000001');
  writeFileSync(join(dir, 'backup_manifest'), manifestBytes);
  return {
    id, dir, kind, parent,
    record: { format_version: 1, id, kind, parent, created_at: '', pid: 0, host: '', validation: null, deleting_since: null, error: null },
    marker: { state: 'complete', directory: dir, status_file: `${dir}.x`, directory_exists: true } as MarkerState,
    status: 'DONE', detail: null, startLsn: '0/2000028', endLsn: '0/2000138', timeline: 1, startedAt: '', finishedAt: null, bytes: 1,
    walStart: null, walEnd: null, systemIdentifier: '7440000000000000001', serverVersion: '18.1', runId: 'r', incrementalFrom: null, tablespaces: [],
    ...extra,
  };
}

describe('the link between an incremental backup and its parent', () => {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  const root = () => {
    const d = mkdtempSync(join(tmpdir(), 'pgbb-chain-'));
    made.push(d);
    return d;
  };
  const checksum = manifestChecksumOf(manifest('7440000000000000001').toString().replace(/"Manifest-Checksum".*\n$/s, ''));

  it('labelField reads backup_label lines', () => {
    expect(labelField(`${LABEL}INCREMENTAL FROM LSN: 0/1000028\n`, 'INCREMENTAL FROM LSN')).toBe('0/1000028');
    expect(labelField(LABEL, 'INCREMENTAL FROM TLI')).toBeUndefined();
  });

  it('a continuous link has no problem; a full backup has no INCREMENTAL FROM lines', () => {
    const r = root();
    const parent = entry(r, 'f', 'FULL', null, LABEL);
    const child = entry(r, 'i', 'INCR', 'f', `${LABEL}INCREMENTAL FROM LSN: 0/2000028\nINCREMENTAL FROM TLI: 1\n`, {
      startLsn: '0/3000028',
      incrementalFrom: { lsn: '0/2000028', timeline: 1, manifestChecksum: checksum },
    });
    expect(checkChainLink(parent, undefined)).toEqual([]);
    expect(checkChainLink(child, parent)).toEqual([]);
  });

  it('label not continuous, other timeline, other system, another parent manifest, kind and label disagree', () => {
    const r = root();
    const parent = entry(r, 'f', 'FULL', null, LABEL);
    const child = entry(r, 'i', 'INCR', 'f', `${LABEL}INCREMENTAL FROM LSN: 0/1000028\nINCREMENTAL FROM TLI: 2\n`, {
      systemIdentifier: '1',
      incrementalFrom: { lsn: '0/2000028', timeline: 1, manifestChecksum: 'ab'.repeat(32) },
    });
    expect(checkChainLink(child, parent)).toEqual([
      'backup_label says INCREMENTAL FROM LSN 0/1000028, but parent backup f starts at 0/2000028',
      'backup_label says INCREMENTAL FROM TLI 2, but parent backup f is on timeline 1',
      'backup i is of database system 1, but parent backup f is of 7440000000000000001',
      `parent backup f's backup_manifest has Manifest-Checksum ${checksum}, but this backup was taken from one with ${'ab'.repeat(32)}`,
    ]);
    // The marker's incremental_from LSN too.
    const marked = entry(r, 'm', 'INCR', 'f', `${LABEL}INCREMENTAL FROM LSN: 0/2000028\nINCREMENTAL FROM TLI: 1\n`, {
      incrementalFrom: { lsn: '0/1000000', timeline: 1, manifestChecksum: checksum },
    });
    expect(checkChainLink(marked, parent)).toEqual(['completion marker says incremental from 0/1000000 on timeline 1, but parent backup f starts at 0/2000028 on timeline 1']);
    const notIncr = entry(r, 'j', 'INCR', 'f', LABEL);
    expect(checkChainLink(notIncr, parent)).toEqual(['backup j is recorded as an incremental backup, but its backup_label has no INCREMENTAL FROM lines']);
    const notFull = entry(r, 'k', 'FULL', null, `${LABEL}INCREMENTAL FROM LSN: 0/1000028\nINCREMENTAL FROM TLI: 1\n`);
    expect(checkChainLink(notFull, undefined)).toEqual(['backup k is recorded as a full backup, but its backup_label says INCREMENTAL FROM LSN 0/1000028']);
  });
});
