/**
 * Where pg-basebackup's messages go.  The CLI prints them as pg's frontend logging does
 * (`pg_basebackup: <msg>`, `pg_basebackup: warning: <msg>`, `pg_basebackup: detail: <line>`);
 * library users get them as calls and may ignore them.
 */
export interface Logger {
  /** pg_log_info: printed as "pg_basebackup: <msg>". */
  info(message: string): void;
  /** pg_log_error for secondary failures (e.g. during cleanup): "pg_basebackup: error: <msg>". */
  error(message: string): void;
  /** pg_log_warning (+ optional detail lines and a hint). */
  warning(message: string, detail?: string[], hint?: string): void;
  /** A server NOTICE/WARNING relayed by libpq's default notice processor: printed verbatim ("NOTICE:  ..."). */
  notice(text: string): void;
  /** Raw progress output (pg's -P line), already formatted, including its trailing "\r" or "\n". */
  progress(text: string): void;
}

export const silentLogger: Logger = {
  info() {},
  error() {},
  warning() {},
  notice() {},
  progress() {},
};

export const PROGNAME = 'pg_basebackup';
