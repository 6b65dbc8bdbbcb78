/**
 * SIGINT, SIGTERM and SIGHUP stop the backup cleanly (beyond pg, which has no handler and leaves a
 * partial directory behind): the first one aborts the run's AbortController with
 * "interrupted by signal SIG...", after which the backup cancels the server's command, closes both
 * connections, drops a -C slot it created and removes what it wrote (unless --no-clean); the run
 * then fails with exit status 1.  A second, separate signal exits at once, with status 1.
 *
 * Stop signals arriving within SAME_REQUEST_MS of the first are the same request, not a second one:
 * timeout(1) sends its signal to the child and then to the whole process group (the child gets it
 * twice), systemd with SendSIGHUP=yes follows SIGTERM with SIGHUP, and a terminal's Ctrl-C reaches
 * every process of the foreground group.  Limitation: the time is when the event loop sees the signal;
 * two signals that arrive while it is blocked in one long synchronous call (a single slow fsync) are
 * seen together and count as one request.
 */
import { PgBasebackupError } from '../errors.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export interface StopSignalHandlers {
  /** Aborted by the first signal. */
  readonly signal: AbortSignal;
  /** Stop listening (the signals take their default course again). */
  dispose(): void;
}

/** The error a backup stopped by `sig` fails with. */
export function interruptedError(sig: StopSignal): PgBasebackupError {
  return new PgBasebackupError('PGBB_ABORTED', `interrupted by signal ${sig}`);
}

/** Stop signals this soon after the first one belong to the same request. */
export const SAME_REQUEST_MS = 150;

export function installStopSignals(
  onSecond: (sig: StopSignal) => void,
  target: NodeJS.Process = process,
  now: () => number = () => performance.now(),
): StopSignalHandlers {
  const controller = new AbortController();
  let firstAt = 0;
  const handler = (sig: NodeJS.Signals): void => {
    const s = sig as StopSignal;
    if (!controller.signal.aborted) {
      firstAt = now();
      controller.abort(interruptedError(s));
    } else if (now() - firstAt >= SAME_REQUEST_MS) {
      onSecond(s);
    }
  };
  for (const s of STOP_SIGNALS) target.on(s, handler);
  return {
    signal: controller.signal,
    dispose() {
      for (const s of STOP_SIGNALS) target.off(s, handler);
    },
  };
}
