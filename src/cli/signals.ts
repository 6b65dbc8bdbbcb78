/**
 * SIGINT, SIGTERM and SIGHUP stop the backup cleanly (beyond pg, which has no handler and leaves a
 * partial directory behind): the first one aborts the run's AbortController with
 * "interrupted by signal SIG...", after which the backup cancels the server's command, closes both
 * connections, drops a -C slot it created and removes what it wrote (unless --no-clean); the run
 * then fails with exit status 1.  A second signal exits at once, with status 1.
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

export function installStopSignals(onSecond: (sig: StopSignal) => void, target: NodeJS.Process = process): StopSignalHandlers {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    const s = sig as StopSignal;
    if (controller.signal.aborted) onSecond(s);
    else controller.abort(interruptedError(s));
  };
  for (const s of STOP_SIGNALS) target.on(s, handler);
  return {
    signal: controller.signal,
    dispose() {
      for (const s of STOP_SIGNALS) target.off(s, handler);
    },
  };
}
