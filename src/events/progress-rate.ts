/**
 * Transfer rate and time left for progress reports: the rate over a sliding window of recent samples
 * (the whole run while it is younger than the window), the ETA from that rate and the estimate.
 */

export const RATE_WINDOW_MS = 5000;

interface Sample {
  at: number;
  bytes: number;
}

export class ProgressRate {
  private readonly samples: Sample[] = [];

  constructor(private readonly windowMs = RATE_WINDOW_MS) {}

  /** Record that `bytes` were done at time `at` (ms, monotonic). */
  add(at: number, bytes: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last !== undefined && last.at === at) {
      last.bytes = bytes;
    } else {
      this.samples.push({ at, bytes });
    }
    // Keep one sample at or before the window start, so the window is always covered.
    while (this.samples.length > 2 && (this.samples[1] as Sample).at <= at - this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples are at least 100 ms apart. */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined) return 0;
    const ms = last.at - first.at;
    if (ms < 100) return 0;
    return Math.max(0, Math.round(((last.bytes - first.bytes) * 1000) / ms));
  }

  /** Seconds until `total` at the current rate; null without a total or a rate. */
  eta(done: number, total: number | null): number | null {
    if (total === null) return null;
    if (done >= total) return 0;
    const r = this.rate();
    if (r <= 0) return null;
    return Math.ceil((total - done) / r);
  }
}
