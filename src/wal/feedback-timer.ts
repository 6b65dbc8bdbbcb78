/**
 * When to send standby status updates (receivelog.c HandleCopyStream, CalculateCopyStreamSleeptime):
 * once when streaming starts, then whenever `statusInterval` seconds have passed since the last
 * update, whichever way it was sent (periodic, or a reply to a keepalive that asked for one).
 * Nothing periodic with an interval of 0.
 *
 * A Node timer, not the receive loop, drives it: status updates go out on time even while the loop
 * waits for the file system or the server sends nothing.  (A timer fires only when the event loop is
 * free; every consumer in this process yields between messages, so the delay stays small.)
 */

export interface FeedbackClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: FeedbackClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class FeedbackTimer {
  private lastStatus = -Infinity;
  private handle: unknown;
  private running = false;

  /**
   * @param intervalSeconds -s; 0 means no periodic updates.
   * @param send sends one status update (the timer records when).
   */
  constructor(
    private readonly intervalSeconds: number,
    private readonly send: () => void,
    private readonly clock: FeedbackClock = realClock,
  ) {}

  /** Streaming started: send the first update now and schedule the next ones. */
  start(): void {
    this.running = true;
    this.lastStatus = -Infinity;
    this.schedule();
  }

  /** An update was sent outside the timer (a requested reply): the interval counts from now. */
  sentNow(): void {
    this.lastStatus = this.clock.now();
    if (this.running) this.schedule();
  }

  /** No more updates (our CopyDone was sent, or the stream ended). */
  stop(): void {
    this.running = false;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private schedule(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    if (!this.running || this.intervalSeconds <= 0) return;
    const intervalMs = this.intervalSeconds * 1000;
    const due = this.lastStatus + intervalMs - this.clock.now();
    if (due <= 0) {
      this.fire();
      return;
    }
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.fire();
    }, due);
  }

  private fire(): void {
    if (!this.running) return;
    this.send();
    this.lastStatus = this.clock.now();
    this.schedule();
  }
}
