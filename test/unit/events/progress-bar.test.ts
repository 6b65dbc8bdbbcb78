import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatProgressBar, LineRedrawer } from '../../../src/events/progress-bar.js';

describe('progress bar text', () => {
  it('formats sizes and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 kB');
    expect(formatBytes(15 * 1024 * 1024)).toBe('15.0 MB');
    expect(formatBytes(150 * 1024 * 1024 * 1024)).toBe('150 GB');
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
  });

  it('draws bar, percentage, amounts, rate, ETA and tablespaces', () => {
    const line = formatProgressBar({ done: 512 * 1024 * 1024, total: 1024 * 1024 * 1024, rate: 10 * 1024 * 1024, eta: 51, tablespaceNum: 0, tablespaceCount: 2 }, false);
    expect(line).toBe('[##########··········]   50%  512 MB/1.00 GB  10.0 MB/s  ETA 0:51  0/2 tablespaces');
  });

  it('without an estimate: no total, no ETA; finished: full bar, 100%', () => {
    expect(formatProgressBar({ done: 2048, total: null, rate: 0, eta: null, tablespaceNum: 0, tablespaceCount: 1 }, false)).toBe(
      '[····················]    0%  2.00 kB  0 B/s  0/1 tablespace',
    );
    expect(formatProgressBar({ done: 4096, total: 4096, rate: 1024, eta: 0, tablespaceNum: 1, tablespaceCount: 1 }, true)).toBe(
      '[####################]  100%  4.00 kB/4.00 kB  1.00 kB/s  1/1 tablespace',
    );
  });

  it('a total below what is done grows to it; a long file name is cut from the left', () => {
    const line = formatProgressBar(
      { done: 3000, total: 1000, rate: 0, eta: null, tablespaceNum: 0, tablespaceCount: 1, filename: '/very/long/path/to/the/backup/base/16384/2619_fsm' },
      false,
    );
    expect(line).toContain('100%');
    expect(line).toContain('2.93 kB/2.93 kB');
    expect(line.split('  ').pop()).toBe('.../backup/base/16384/2619_fsm');
  });

  it('LineRedrawer: \\r, blanks over a longer previous line, newline at the end', () => {
    const out: string[] = [];
    const r = new LineRedrawer((t) => out.push(t));
    r.draw('abcdef', false);
    r.draw('abc', false);
    r.draw('xy', true);
    expect(out).toEqual(['\rabcdef', '\rabc   ', '\rxy \n']);
  });
});
