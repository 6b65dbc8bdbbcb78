import { describe, expect, it } from 'vitest';
import { EventingProgressReporter, type ProgressEventsOptions } from '../../../src/events/progress-events.js';

function reporter(over: Partial<ProgressEventsOptions> = {}) {
  let now = 0;
  const out: string[] = [];
  const phases: unknown[] = [];
  const progress: { bytes_done: number; bytes_total: number | null; rate: number; eta: number | null; tablespace: number; tablespaces: number }[] = [];
  const r = new EventingProgressReporter({
    enabled: true,
    verbose: false,
    isTty: false,
    write: (t) => out.push(t),
    tablespaceCount: 2,
    countReceived: true,
    onPhase: (phase, extra) => phases.push({ phase, ...extra }),
    onProgress: (p) => progress.push(p),
    now: () => now,
    ...over,
  });
  r.state.totalSizeKb = 100n;
  return { r, out, phases, progress, tick: (ms: number) => (now += ms) };
}

describe('EventingProgressReporter', () => {
  it('one streaming phase per archive, in order', () => {
    const { r, phases } = reporter();
    r.begin();
    r.report(0, true, false); // a 'p' message during archive 1
    r.report(1, true, false); // archive 2 starts
    r.report(1, true, false);
    r.report(2, true, true); // the end
    expect(phases).toEqual([
      { phase: 'streaming', tablespace: 1, tablespaces: 2 },
      { phase: 'streaming', tablespace: 2, tablespaces: 2 },
    ]);
  });

  it('progress events at most every 250 ms; the final one always, with the total set to what was done', () => {
    const { r, progress, tick } = reporter();
    r.begin();
    tick(1);
    r.addReceived(10 * 1024); // first event
    tick(100);
    r.addReceived(10 * 1024); // too soon
    tick(200);
    r.addReceived(10 * 1024);
    tick(10);
    r.report(2, true, true);
    expect(progress.map((p) => p.bytes_done)).toEqual([10240, 30720, 30720]);
    expect(progress[0]).toMatchObject({ bytes_total: 102400, tablespace: 1, tablespaces: 2 });
    expect(progress[1]?.rate).toBeGreaterThan(0);
    expect(progress[1]?.eta).toBeGreaterThan(0);
    expect(progress[2]).toMatchObject({ bytes_done: 30720, bytes_total: 30720, eta: 0, tablespace: 2 });
  });

  it("bytes done: the server's count, or the received bytes if larger (not with server compression)", () => {
    const a = reporter();
    a.r.state.totalDone = 5000n;
    a.r.addReceived(7000);
    expect(a.r.bytesDone).toBe(7000);
    const b = reporter({ countReceived: false });
    b.r.state.totalDone = 5000n;
    b.r.addReceived(70_000);
    expect(b.r.bytesDone).toBe(5000);
  });

  it("without a terminal -P keeps pg's line format; on a terminal it draws the bar", () => {
    const plain = reporter();
    plain.r.state.totalDone = 51200n;
    plain.r.report(0, true, false);
    expect(plain.out).toEqual([' 50/100 kB (50%), 0/2 tablespaces\n']);

    const tty = reporter({ isTty: true });
    tty.r.state.totalDone = 51200n;
    tty.r.report(0, true, false);
    tty.tick(300);
    tty.r.report(2, true, true);
    expect(tty.out).toHaveLength(2);
    expect(tty.out[0]).toMatch(/^\r\[#{10}·{10}\] {3}50% {2}50\.0 kB\/100 kB {2}/);
    expect(tty.out[1]).toMatch(/^\r\[#{20}\] {2}100% .*2\/2 tablespaces *\n$/);
  });

  it('without -P nothing is written, but events still come', () => {
    const { r, out, progress } = reporter({ enabled: false });
    r.begin();
    r.addReceived(100);
    r.report(2, true, true);
    expect(out).toEqual([]);
    expect(progress.length).toBe(2);
  });
});
