/**
 * Stopping a backup through an AbortSignal (the CLI aborts on SIGINT, SIGTERM and SIGHUP; library
 * users pass their own).  The error a stopped backup fails with is the signal's reason when that is
 * a PgBasebackupError (the CLI's "interrupted by signal SIGINT"), else PGBB_ABORTED "backup aborted".
 */
import { PgBasebackupError } from '../errors.js';
import type { PgConnection } from '../protocol/connection.js';

/** Let the event loop run once (node:timers/promises' setImmediate, without loading that module). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The error for a fired signal. */
export function abortError(signal: AbortSignal): PgBasebackupError {
  const reason: unknown = signal.reason;
  if (reason instanceof PgBasebackupError && reason.code === 'PGBB_ABORTED') return reason;
  return new PgBasebackupError('PGBB_ABORTED', 'backup aborted', { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Run `fn` once when `signal` fires (at once if it already has); returns a function that stops listening. */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (signal === undefined) return () => undefined;
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/**
 * What a backup does the moment its signal fires: a CancelRequest for the server's running command
 * (which may be waiting for a checkpoint and would not notice a closed socket), then the connection is
 * destroyed so that every pending read fails.  `cancelled` settles once the CancelRequest was
 * delivered (or failed); await it before exiting.
 */
export function stopOnAbort(signal: AbortSignal | undefined, connection: () => PgConnection | undefined): { readonly cancelled: Promise<void>; dispose(): void } {
  let cancelled: Promise<void> = Promise.resolve();
  const dispose = onAbort(signal, () => {
    const conn = connection();
    if (conn !== undefined) cancelled = conn.cancel().catch(() => undefined);
    conn?.destroy(abortError(signal as AbortSignal));
  });
  return {
    get cancelled() {
      return cancelled;
    },
    dispose,
  };
}

/**
 * `p`, or the abort error as soon as `signal` fires (`p` is then left to settle on its own; the
 * caller tears down whatever it was waiting for).
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const stop = onAbort(signal, () => {
      p.catch(() => undefined);
      reject(abortError(signal));
    });
    p.then(
      (v) => {
        stop();
        resolve(v);
      },
      (e: unknown) => {
        stop();
        reject(e);
      },
    );
  });
}

/**
 * Drive a synchronous job that yields between steps (e.g. the fsync walk), giving the event loop a
 * turn every `sliceMs` so that a signal is noticed, and stopping with the abort error when it fires.
 * A step that yields a promise (a syncfs call running in a child process) is awaited to its end.
 */
export async function runSteps(steps: Iterable<unknown>, signal: AbortSignal | undefined, sliceMs = 20): Promise<void> {
  let sliceStart = Date.now();
  for (const step of steps) {
    if (step instanceof Promise) {
      await step;
      sliceStart = Date.now();
    }
    if (Date.now() - sliceStart >= sliceMs) {
      await yieldToEventLoop();
      sliceStart = Date.now();
    }
    throwIfAborted(signal);
  }
  // One more turn, so that a signal that came during a long synchronous step (a syncfs call) is seen.
  await yieldToEventLoop();
  throwIfAborted(signal);
}
