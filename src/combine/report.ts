/**
 * pg_combinebackup's messages, as PostgreSQL's frontend logging prints them:
 * `pg_combinebackup: error: ...`, `... warning: ...`, `... hint: ...`, and info lines with the bare
 * program name; debug lines (only with -d) look like info lines, as pg prints them.  getopt's own
 * complaints are printed verbatim.
 */
import { GetoptError } from '../cli/getopt.js';
import { PgBasebackupError, UsageError } from '../errors.js';

export const COMBINE_PROGNAME = 'pg_combinebackup';
export const COMBINE_HELP_HINT = `Try "${COMBINE_PROGNAME} --help" for more information.`;

/** A command-line error followed by pg_combinebackup's "Try --help" hint. */
export function usageWithHint(message: string): UsageError {
  return new UsageError(message, { hint: COMBINE_HELP_HINT });
}

export interface CombineLogger {
  /** pg_log_debug: printed only with -d. */
  debug(message: string): void;
  info(message: string): void;
  warning(message: string, hint?: string): void;
  error(message: string): void;
}

export type Write = (text: string) => void;

export function stderrCombineLogger(write: Write, debug: () => boolean): CombineLogger {
  const p = COMBINE_PROGNAME;
  return {
    debug: (m) => {
      if (debug()) write(`${p}: ${m}\n`);
    },
    info: (m) => write(`${p}: ${m}\n`),
    warning: (m, hint) => {
      write(`${p}: warning: ${m}\n`);
      if (hint !== undefined) write(`${p}: hint: ${hint}\n`);
    },
    error: (m) => write(`${p}: error: ${m}\n`),
  };
}

export const silentCombineLogger: CombineLogger = { debug() {}, info() {}, warning() {}, error() {} };

/** The lines pg_combinebackup prints for a failure. */
export function formatCombineError(err: unknown): string {
  const p = COMBINE_PROGNAME;
  if (err instanceof GetoptError) {
    // getopt's text names argv[0]; the hint is ours.
    return `${err.message === '' ? '' : `${err.message}\n`}${p}: hint: ${COMBINE_HELP_HINT}\n`;
  }
  if (err instanceof PgBasebackupError) {
    let out = `${p}: error: ${err.message.replace(/\n+$/, '')}\n`;
    for (const d of err.detail) out += `${p}: detail: ${d}\n`;
    if (err.hint) out += `${p}: hint: ${err.hint}\n`;
    return out;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return `${p}: error: ${msg}\n`;
}
