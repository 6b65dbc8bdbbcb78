import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeTarHeader } from '../../../src/archive/tar-header.js';
import { formatLsn, walFileName } from '../../../src/lsn.js';
import { checkWalRange } from '../../../src/wal/read/range-check.js';
import { TarWalSource } from '../../../src/wal/read/tar-source.js';
import { walFormatOfMajor, type WalFormat } from '../../../src/wal/read/wal-format.js';
import { SEG_SIZE, WalWriter } from './wal-fixture.js';

const F16 = walFormatOfMajor(16) as WalFormat;
const dir = mkdtempSync(join(tmpdir(), 'pgbb-waltar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tarOf(files: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) {
    parts.push(encodeTarHeader({ name, size: data.length, mode: 0o600, uid: 0, gid: 0, mtime: 0, type: 'file', linkTarget: '' }));
    parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Two segments of 16's WAL, records crossing pages and the segment boundary. */
function sample(): WalWriter {
  const w = new WalWriter(F16.pageMagic, BigInt(SEG_SIZE) * 2n);
  while (w.pos < BigInt(SEG_SIZE) * 3n + 100_000n) w.record(5000 + (w.records.length % 7) * 300);
  return w;
}

describe('TarWalSource: WAL read from inside a (compressed) tar, streamed', () => {
  it('pg_wal.tar.gz with archive_status members: every record of a range across the segment boundary', async () => {
    const w = sample();
    const path = join(dir, 'pg_wal.tar.gz');
    const files = [...w.files()].sort(([a], [b]) => (a < b ? -1 : 1));
    writeFileSync(path, gzipSync(tarOf([['archive_status/x.done', Buffer.alloc(0)], ...files])));
    const { source, first } = await TarWalSource.open({ path, compression: 'gzip', prefix: '' });
    expect(first?.name).toBe(walFileName(1, 2n, SEG_SIZE));
    expect(first?.head.length).toBe(8192);
    const start = (w.records[0] as { lsn: bigint }).lsn;
    const end = (w.records.at(-1) as { end: bigint }).end;
    const r = await checkWalRange({ timeline: 1, startLsn: start, endLsn: end }, { source, walSegSize: SEG_SIZE, format: F16 });
    expect(r).toEqual({ failed: false, messages: [], records: w.records.length });
    // A second range on an earlier segment: the archive is read again from its start.
    const r2 = await checkWalRange(
      { timeline: 1, startLsn: start, endLsn: (w.records[5] as { end: bigint }).end },
      { source, walSegSize: SEG_SIZE, format: F16 },
    );
    expect(r2).toEqual({ failed: false, messages: [], records: 6 });
    await source.close();
  });

  it('base.tar with pg_wal/ members (-X fetch): a damaged record is reported', async () => {
    const w = sample();
    const rec = w.records[10] as { lsn: bigint };
    w.flip(rec.lsn + 40n);
    const path = join(dir, 'base.tar');
    const files = [...w.files()].map(([n, b]) => [`pg_wal/${n}`, b] as [string, Buffer]);
    writeFileSync(path, tarOf([['PG_VERSION', Buffer.from('16\n')], ...files]));
    const { source } = await TarWalSource.open({ path, compression: 'none', prefix: 'pg_wal/' });
    const r = await checkWalRange(
      { timeline: 1, startLsn: (w.records[0] as { lsn: bigint }).lsn, endLsn: (w.records.at(-1) as { end: bigint }).end },
      { source, walSegSize: SEG_SIZE, format: F16 },
    );
    await source.close();
    expect(r.messages).toEqual([
      {
        level: 'error',
        text: `error in WAL record at ${formatLsn((w.records[9] as { lsn: bigint }).lsn)}: incorrect resource manager data checksum in record at ${formatLsn(rec.lsn)}`,
      },
    ]);
  });
});
