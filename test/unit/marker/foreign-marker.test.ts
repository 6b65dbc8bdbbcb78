/**
 * A completion marker inside the source's archive (a standby we provisioned, now backed up) is never
 * mistaken for this backup's: the plain-format chain drops `pg-basebackup-status.json` (and its
 * `.tmp`) at the base archive's root, and nothing else.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createArchiveChain } from '../../../src/archive/create-chain.js';
import { MARKER_NAME } from '../../../src/backup/completion-marker.js';
import { feed, tarStreamPack } from '../archive/helpers.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-foreign-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const plan = { format: 'plain', toStdout: false, injectManifest: false, serverCompression: 'none', clientCompression: 'none' } as const;
const foreign = JSON.stringify({ status: 'complete', format_version: 1, run_id: 'x', tool: 'pg-basebackup', target: '/old' });

describe('foreign completion marker', () => {
  it('is dropped from the base archive root, with its .tmp; the same name deeper down is kept', async () => {
    const data = join(tmp, 'data');
    mkdirSync(data);
    const archive = await tarStreamPack([
      { name: 'backup_label', data: 'LABEL\n' },
      { name: MARKER_NAME, data: foreign },
      { name: `${MARKER_NAME}.tmp`, data: Buffer.alloc(3000, 7) }, // spans several 512-byte blocks
      { name: 'PG_VERSION', data: '16\n' },
      { name: 'base', type: 'directory' },
      { name: `base/${MARKER_NAME}`, data: 'user data' },
      { name: 'global', type: 'directory' },
      { name: 'global/pg_control', data: Buffer.alloc(8192, 1) },
    ]);
    const h = createArchiveChain({ ...plan, isBase: true, archiveName: 'base.tar' }, { baseDir: data, dataDirMode: 0o700 });
    await feed(h.head, [archive]);
    expect(readdirSync(data).sort()).toEqual(['PG_VERSION', 'backup_label', 'base', 'global']);
    expect(readFileSync(join(data, 'PG_VERSION'), 'utf8')).toBe('16\n'); // the member after it is intact
    expect(readFileSync(join(data, 'base', MARKER_NAME), 'utf8')).toBe('user data');
    expect(readFileSync(join(data, 'global', 'pg_control'))).toEqual(Buffer.alloc(8192, 1));
  });

  it('a tablespace archive is extracted as it is', async () => {
    const ts = join(tmp, 'ts');
    mkdirSync(ts);
    const archive = await tarStreamPack([{ name: MARKER_NAME, data: foreign }]);
    const h = createArchiveChain({ ...plan, isBase: false, archiveName: '16384.tar' }, { baseDir: join(tmp, 'data'), spcLocation: ts, dataDirMode: 0o700 });
    await feed(h.head, [archive]);
    expect(existsSync(join(ts, MARKER_NAME))).toBe(true);
  });
});
