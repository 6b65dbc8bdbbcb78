import { describe, expect, it } from 'vitest';
import { formatLsn, walFileName } from '../../../src/lsn.js';
import { checkWalRange } from '../../../src/wal/read/range-check.js';
import { walFormatOfMagic, walFormatOfMajor, XLOG_PAGE_MAGIC_BY_MAJOR, type WalFormat } from '../../../src/wal/read/wal-format.js';
import { memorySource, PAGE, SEG_SIZE, SYSID, WalWriter } from './wal-fixture.js';

const F18 = walFormatOfMajor(18) as WalFormat;
const START = BigInt(SEG_SIZE) * 2n; // segment 2 of a 1 MB-segment cluster

function check(w: WalWriter, start: bigint, end: bigint, format: WalFormat = F18, files = w.files()) {
  return checkWalRange({ timeline: 1, startLsn: start, endLsn: end }, { source: memorySource(files), walSegSize: SEG_SIZE, format, systemIdentifier: SYSID });
}

/** Records of assorted sizes: some continue on the next page, one runs into the next segment. */
function sample(): WalWriter {
  const w = new WalWriter(F18.pageMagic, START);
  for (let i = 0; i < 40; i++) w.record(i % 3 === 0 ? 3000 : 40 + i);
  while (w.pos < START + BigInt(SEG_SIZE) - 5000n) w.record(7000);
  w.record(20000); // crosses into segment 3
  for (let i = 0; i < 10; i++) w.record(100);
  return w;
}

describe('WAL page magic per major (xlog_internal.h of 13-18)', () => {
  it('knows each value and maps it back', () => {
    expect(XLOG_PAGE_MAGIC_BY_MAJOR).toEqual({ 13: 0xd106, 14: 0xd10d, 15: 0xd110, 16: 0xd113, 17: 0xd116, 18: 0xd118 });
    for (const [major, magic] of Object.entries(XLOG_PAGE_MAGIC_BY_MAJOR)) expect(walFormatOfMagic(magic)?.major).toBe(Number(major));
    expect(walFormatOfMagic(0xd105)).toBeUndefined();
    expect(walFormatOfMajor(13)).toMatchObject({ customRmgrs: false, topLevelXidBlock: false, bkpimageFlags15: false });
    expect(walFormatOfMajor(14)).toMatchObject({ customRmgrs: false, topLevelXidBlock: true });
    expect(walFormatOfMajor(15)).toMatchObject({ customRmgrs: true, bkpimageFlags15: true });
  });
});

describe('XLogReader over byte fixtures', () => {
  it('reads every record, across page and segment boundaries, up to the end LSN', async () => {
    const w = sample();
    const crossing = w.records.filter((r) => r.lsn / BigInt(PAGE) !== (r.end - 1n) / BigInt(PAGE));
    expect(crossing.length).toBeGreaterThan(10);
    expect(w.records.some((r) => r.lsn / BigInt(SEG_SIZE) !== (r.end - 1n) / BigInt(SEG_SIZE))).toBe(true);
    const last = w.records[w.records.length - 1] as { end: bigint };
    const r = await check(w, START + 40n, last.end);
    expect(r).toEqual({ failed: false, messages: [], records: w.records.length });
  });

  it('stops quietly before a record that ends past the end LSN', async () => {
    const w = sample();
    const mid = w.records[20] as { lsn: bigint; end: bigint };
    const r = await check(w, START + 40n, mid.end - 1n);
    expect(r.failed).toBe(false);
    expect(r.records).toBe(20);
  });

  it('a CRC failure in a record continued on the next page', async () => {
    const w = sample();
    const i = w.records.findIndex((r, k) => k > 0 && r.lsn / BigInt(PAGE) !== (r.end - 1n) / BigInt(PAGE));
    const rec = w.records[i] as { lsn: bigint; end: bigint };
    w.flip(rec.end - 10n); // on the continuation page
    const r = await check(w, START + 40n, (w.records.at(-1) as { end: bigint }).end);
    expect(r.failed).toBe(true);
    expect(r.messages).toEqual([
      {
        level: 'error',
        text: `error in WAL record at ${formatLsn((w.records[i - 1] as { lsn: bigint }).lsn)}: incorrect resource manager data checksum in record at ${formatLsn(rec.lsn)}`,
      },
    ]);
    expect(r.records).toBe(i);
  });

  it('a bad magic number on a page', async () => {
    const w = sample();
    const page = START + BigInt(PAGE) * 5n;
    w.flip(page); // low byte of xlp_magic
    const r = await check(w, START + 40n, (w.records.at(-1) as { end: bigint }).end);
    const bad = (F18.pageMagic ^ 0xff).toString(16).toUpperCase();
    expect(r.failed).toBe(true);
    const text = (r.messages[0] as { text: string }).text;
    expect(text).toMatch(
      new RegExp(`^error in WAL record at [0-9A-F/]+: invalid magic number ${bad} in WAL segment ${walFileName(1, 2n, SEG_SIZE)}, LSN ${formatLsn(page).replace('/', '\\/')}, offset ${5 * PAGE}$`),
    );
  });

  it('WAL of another major: every page has the wrong magic', async () => {
    const w = sample();
    const r = await check(w, START + 40n, (w.records.at(-1) as { end: bigint }).end, walFormatOfMajor(17) as WalFormat);
    expect(r.messages).toEqual([{ level: 'error', text: `could not find a valid record after ${formatLsn(START + 40n)}` }]);
  });

  it('a continuation page without XLP_FIRST_IS_CONTRECORD', async () => {
    const w = sample();
    const i = w.records.findIndex((r, k) => k > 0 && r.lsn / BigInt(PAGE) !== (r.end - 1n) / BigInt(PAGE));
    const rec = w.records[i] as { lsn: bigint; end: bigint };
    const nextPage = (rec.lsn / BigInt(PAGE) + 1n) * BigInt(PAGE);
    w.flip(nextPage + 2n); // xlp_info low byte: the flag goes, others appear
    const [no, off] = w.at(nextPage + 2n);
    (w.segments.get(no) as Buffer)[off] = 0; // exactly: no flags at all
    const r = await check(w, START + 40n, (w.records.at(-1) as { end: bigint }).end);
    expect(r.messages[0]?.text).toBe(
      `error in WAL record at ${formatLsn((w.records[i - 1] as { lsn: bigint }).lsn)}: there is no contrecord flag at ${formatLsn(rec.lsn)}`,
    );
  });

  it('a missing next segment: pg_waldump\'s "could not find file"', async () => {
    const w = sample();
    const files = w.files();
    files.delete(walFileName(1, 3n, SEG_SIZE));
    const r = await check(w, START + 40n, (w.records.at(-1) as { end: bigint }).end, F18, files);
    expect(r.failed).toBe(true);
    expect(r.messages).toEqual([{ level: 'error', text: `could not find file "${walFileName(1, 3n, SEG_SIZE)}": No such file or directory` }]);
  });

  it('a segment of another system (long header sysid) is refused when the manifest says which', async () => {
    const w = sample();
    const r = await checkWalRange(
      { timeline: 1, startLsn: START + 40n, endLsn: (w.records.at(-1) as { end: bigint }).end },
      { source: memorySource(w.files()), walSegSize: SEG_SIZE, format: F18, systemIdentifier: 42n },
    );
    expect(r.messages[0]?.text).toBe(`could not find a valid record after ${formatLsn(START + 40n)}`);
  });

  it('a start inside a record: skips to the next one and says so', async () => {
    const w = sample();
    const r = await check(w, (w.records[3] as { lsn: bigint }).lsn + 8n, (w.records.at(-1) as { end: bigint }).end);
    expect(r.failed).toBe(false);
    expect(r.messages[0]?.level).toBe('info');
    expect(r.messages[0]?.text).toMatch(/^first record is after [0-9A-F/]+, at [0-9A-F/]+, skipping over \d+ bytes$/);
  });
});
