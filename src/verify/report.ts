/**
 * How pg_verifybackup reports: every problem is "pg_verifybackup: error: <text>" on stderr; a backup
 * error marks the run failed and, with -e, ends it at once; a fatal error always ends it.  Ending is
 * done by throwing VerifyExit, which the command's one error boundary (main.ts) turns into the exit
 * status.
 */
import { PgBasebackupError } from '../errors.js';
import { VERIFY_PROGNAME } from './options.js';

export type Write = (text: string) => void;

/**
 * Unwinds the run after its message was printed.  A PgBasebackupError so that archive stages pass it
 * through unchanged.
 */
export class VerifyExit extends PgBasebackupError {
  constructor(readonly status: number) {
    super('PGBB_FILE', `exit ${status}`);
    this.name = 'VerifyExit';
  }
}

export class Reporter {
  sawAnyError = false;

  constructor(
    private readonly stderr: Write,
    private readonly exitOnError: boolean,
  ) {}

  /** pg_log_error / pg_log_error_detail / pg_log_error_hint. */
  log(level: 'error' | 'detail' | 'hint' | 'warning', text: string): void {
    this.stderr(`${VERIFY_PROGNAME}: ${level}: ${text}\n`);
  }

  /** Text written as is (another program's lines, progress). */
  raw(text: string): void {
    this.stderr(text);
  }

  /** report_backup_error: a problem with the backup; the run goes on unless -e. */
  backupError(text: string): void {
    this.log('error', text);
    this.sawAnyError = true;
    if (this.exitOnError) throw new VerifyExit(1);
  }

  /** report_fatal_error / pg_fatal: print and end the run. */
  fatal(text: string, hint?: string): never {
    this.log('error', text);
    if (hint !== undefined) this.log('hint', hint);
    throw new VerifyExit(1);
  }
}
