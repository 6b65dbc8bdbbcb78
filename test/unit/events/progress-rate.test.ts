import { describe, expect, it } from 'vitest';
import { ProgressRate } from '../../../src/events/progress-rate.js';

describe('ProgressRate', () => {
  it('is 0 with fewer than two samples 100 ms apart', () => {
    const r = new ProgressRate();
    expect(r.rate()).toBe(0);
    r.add(0, 0);
    r.add(50, 1000);
    expect(r.rate()).toBe(0);
    expect(r.eta(1000, 5000)).toBeNull();
  });

  it('measures over the window and forgets older samples', () => {
    const r = new ProgressRate(5000);
    r.add(0, 0);
    r.add(1000, 1_000_000); // 1 MB/s
    expect(r.rate()).toBe(1_000_000);
    for (let t = 2000; t <= 10_000; t += 1000) r.add(t, 1_000_000 + (t - 1000) * 2000); // then 2 MB/s
    expect(r.rate()).toBe(2_000_000);
  });

  it('ETA from the rate and the total; 0 when done, null without a total', () => {
    const r = new ProgressRate();
    r.add(0, 0);
    r.add(2000, 2000);
    expect(r.rate()).toBe(1000);
    expect(r.eta(2000, 10_000)).toBe(8);
    expect(r.eta(2000, 2500)).toBe(1); // rounded up
    expect(r.eta(10_000, 10_000)).toBe(0);
    expect(r.eta(2000, null)).toBeNull();
  });

  it('a sample at the same time replaces the previous one', () => {
    const r = new ProgressRate();
    r.add(0, 0);
    r.add(1000, 10);
    r.add(1000, 500);
    expect(r.rate()).toBe(500);
  });
});
