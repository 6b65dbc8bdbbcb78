/**
 * Test helper: the stderr lines pg_basebackup prints for a command-line error (pg's frontend logging:
 * getopt's own complaint verbatim, else "pg_basebackup: error: ..."; then the hint line if any).
 */
import { PgBasebackupError } from '../../../src/errors.js';
import { GetoptError } from '../../../src/cli/getopt.js';
import { parseCommandLine, type ParseSettings } from '../../../src/cli/parse-args.js';

export const FIXED_SETTINGS: ParseSettings = { posixlyCorrect: false, syncfsSupported: true, progname: 'pg_basebackup' };

export function stderrLines(err: unknown): string[] {
  if (!(err instanceof PgBasebackupError)) throw err;
  const lines: string[] = [];
  if (err instanceof GetoptError) {
    if (err.message !== '') lines.push(err.message);
  } else {
    lines.push(`pg_basebackup: error: ${err.message}`);
    for (const d of err.detail) lines.push(`pg_basebackup: detail: ${d}`);
  }
  if (err.hint !== undefined) lines.push(`pg_basebackup: hint: ${err.hint}`);
  return lines;
}

/** What parseCommandLine makes of argv: the stderr lines of its error, or the parse result. */
export function outcome(argv: string[], settings: ParseSettings = FIXED_SETTINGS) {
  try {
    return { result: parseCommandLine(argv, settings), stderr: undefined };
  } catch (err) {
    return { result: undefined, stderr: stderrLines(err) };
  }
}
