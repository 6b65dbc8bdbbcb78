import { describe, expect, it } from 'vitest';
import { walFileName } from '../../../src/lsn.js';
import { parseTimelineHistory, TimelineHistoryError, tliOfSegment } from '../../../src/wal/read/timeline-history.js';
import { walFormatOfMajor, type WalFormat } from '../../../src/wal/read/wal-format.js';
import { XLogReader } from '../../../src/wal/read/xlog-reader.js';
import { memorySource, SEG_SIZE, WalWriter } from './wal-fixture.js';

describe('timeline history files', () => {
  it('parses ancestors with their switch points (comments, blank lines, reasons)', () => {
    const h = parseTimelineHistory('# comment\n\n1\t0/3000000\tno recovery target specified\n2\t0/5000A8\tbefore 2000-01-01\n', 3);
    expect(h).toEqual([
      { tli: 1, begin: 0n, end: 0x3000000n },
      { tli: 2, begin: 0x3000000n, end: 0x5000a8n },
      { tli: 3, begin: 0x5000a8n, end: undefined },
    ]);
  });

  it("refuses what the server refuses, with pg's texts", () => {
    const err = (text: string, tli: number) => {
      try {
        parseTimelineHistory(text, tli);
      } catch (e) {
        return [(e as TimelineHistoryError).message, (e as TimelineHistoryError).hint];
      }
      return undefined;
    };
    expect(err('x\t0/1\n', 2)).toEqual(['syntax error in history file: x\t0/1', 'Expected a numeric timeline ID.']);
    expect(err('1\n', 2)).toEqual(['syntax error in history file: 1', 'Expected a write-ahead log switchpoint location.']);
    expect(err('2\t0/1\n1\t0/2\n', 3)?.[1]).toBe('Timeline IDs must be in increasing sequence.');
    expect(err('2\t0/1\n', 2)?.[1]).toBe("Timeline IDs must be less than child timeline's ID.");
  });

  it('the segment holding the switch point is read from the newer timeline', () => {
    const h = parseTimelineHistory('1\t0/3000100\treason\n', 2);
    const seg = 16 * 1024 * 1024;
    expect(tliOfSegment(h, 0x2000000n, seg)).toBe(1);
    expect(tliOfSegment(h, 0x3000000n, seg)).toBe(2);
    expect(tliOfSegment(h, 0x4000000n, seg)).toBe(2);
  });

  it('the reader follows a timeline through its ancestor\'s segments', async () => {
    const F = walFormatOfMajor(17) as WalFormat;
    const w = new WalWriter(F.pageMagic, BigInt(SEG_SIZE) * 2n, 1);
    while (w.pos < BigInt(SEG_SIZE) * 3n - 3000n) w.record(2000);
    w.tli = 2; // pages from here on are written on timeline 2
    while (w.pos < BigInt(SEG_SIZE) * 3n + 50_000n) w.record(2000);
    const files = new Map<string, Buffer>([
      [walFileName(1, 2n, SEG_SIZE), w.segments.get(2n) as Buffer],
      [walFileName(2, 3n, SEG_SIZE), w.segments.get(3n) as Buffer],
    ]);
    const history = parseTimelineHistory(`1\t0/${(SEG_SIZE * 3).toString(16).toUpperCase()}\tpromoted\n`, 2);
    const read = async (segmentTimeline?: (segNo: bigint) => number) => {
      const r = new XLogReader({
        source: memorySource(files),
        walSegSize: SEG_SIZE,
        timeline: 2,
        endPtr: (w.records.at(-1) as { end: bigint }).end,
        format: F,
        segmentTimeline,
      });
      try {
        await r.findNextRecord((w.records[0] as { lsn: bigint }).lsn);
        r.recordCount = 0;
        while ((await r.readRecord()) !== undefined);
        return r.errorMessage ?? `${r.recordCount} records`;
      } catch (e) {
        return (e as Error).message;
      } finally {
        await r.close();
      }
    };
    expect(await read((segNo) => tliOfSegment(history, segNo * BigInt(SEG_SIZE), SEG_SIZE))).toBe(`${w.records.length} records`);
    expect(await read()).toBe(`could not find file "${walFileName(2, 2n, SEG_SIZE)}": No such file or directory`);
  });
});
