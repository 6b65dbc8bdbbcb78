import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectDeadline, effectiveConnectTimeoutMs } from '../../../src/protocol/connect-deadline.js';

afterEach(() => vi.useRealTimers());

describe('connect_timeout', () => {
  it('libpq rounding: 0/negative/undefined = none, 1 becomes 2 s', () => {
    expect(effectiveConnectTimeoutMs(undefined)).toBe(0);
    expect(effectiveConnectTimeoutMs(0)).toBe(0);
    expect(effectiveConnectTimeoutMs(-5)).toBe(0);
    expect(effectiveConnectTimeoutMs(1)).toBe(2000);
    expect(effectiveConnectTimeoutMs(10)).toBe(10000);
  });

  it('fires after the timeout, not counting paused time', () => {
    vi.useFakeTimers();
    const d = new ConnectDeadline(3);
    vi.advanceTimersByTime(1000);
    d.pause();
    vi.advanceTimersByTime(60_000);
    expect(d.signal.aborted).toBe(false);
    d.resume();
    vi.advanceTimersByTime(1900);
    expect(d.signal.aborted).toBe(false);
    vi.advanceTimersByTime(200);
    expect(d.signal.aborted).toBe(true);
    expect(d.timedOut).toBe(true);
    expect(d.aborted).toBe(false);
    d.dispose();
  });

  it('follows the caller\'s AbortSignal', () => {
    const ac = new AbortController();
    const d = new ConnectDeadline(0, ac.signal);
    expect(d.signal.aborted).toBe(false);
    ac.abort();
    expect(d.signal.aborted).toBe(true);
    expect(d.aborted).toBe(true);
    expect(d.timedOut).toBe(false);
    d.dispose();
  });
});
