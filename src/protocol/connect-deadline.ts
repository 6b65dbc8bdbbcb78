/**
 * connect_timeout for one server address, as pqConnectDBComplete() applies it: the clock starts when
 * the address is first tried and keeps running across SSL retries on that address; values 1 become 2;
 * 0 or undefined means no limit.  Time spent waiting for a password prompt is not counted (libpq
 * prompts between attempts, not during one).
 *
 * `signal` aborts when the time is up or when the caller's own AbortSignal fires.
 */
import { PgBasebackupError } from '../errors.js';

/** libpq's effective timeout in milliseconds for a connect_timeout setting (0 = none). */
export function effectiveConnectTimeoutMs(seconds: number | undefined): number {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return 0;
  return Math.max(2, Math.floor(seconds)) * 1000;
}

export class ConnectDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private remainingMs: number;
  private startedAt = 0;
  private expired = false;
  private readonly onOuterAbort = () => this.controller.abort(this.outer?.reason);

  constructor(
    timeoutSeconds: number | undefined,
    private readonly outer?: AbortSignal | undefined,
  ) {
    this.remainingMs = effectiveConnectTimeoutMs(timeoutSeconds);
    if (outer?.aborted) this.controller.abort(outer.reason);
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.resume();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True when the signal fired because connect_timeout elapsed. */
  get timedOut(): boolean {
    return this.expired;
  }

  /** True when the caller's AbortSignal fired. */
  get aborted(): boolean {
    return this.outer?.aborted === true;
  }

  pause(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs = Math.max(1, this.remainingMs - (Date.now() - this.startedAt));
  }

  resume(): void {
    if (this.timer !== undefined || this.remainingMs === 0 || this.controller.signal.aborted) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expired = true;
      this.controller.abort(new PgBasebackupError('PGBB_CONNECTION', 'timeout expired'));
    }, this.remainingMs);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}

/** The error PgConnection.open() rejects with when the caller's AbortSignal fires. */
export function abortedError(signal: AbortSignal | undefined): PgBasebackupError {
  return new PgBasebackupError('PGBB_ABORTED', 'connection attempt aborted', { cause: signal?.reason });
}
