#!/usr/bin/env node
/**
 * The pg_verifybackup command (also installed as pg-verifybackup).  The one error boundary: usage
 * errors print pg's texts and exit 1, a verification ends with its status (0 verified, 1 otherwise).
 */
import { toolVersion } from '../backup/tool-version.js';
import { GetoptError } from '../cli/getopt.js';
import { PgBasebackupError } from '../errors.js';
import { parseVerifyCommandLine, VERIFY_HELP_HINT, VERIFY_PROGNAME, verifyHelpText, verifyVersionText } from './options.js';
import { VerifyExit } from './report.js';
import { runVerify } from './run.js';

export async function main(argv: string[]): Promise<number> {
  const stderr = (t: string) => {
    process.stderr.write(t);
  };
  try {
    const parsed = parseVerifyCommandLine(argv);
    if (parsed.kind === 'help') {
      process.stdout.write(verifyHelpText());
      return 0;
    }
    if (parsed.kind === 'version') {
      process.stdout.write(`${verifyVersionText(toolVersion())}\n`);
      return 0;
    }
    return await runVerify(parsed.options, {
      stdout: (t) => {
        process.stdout.write(t);
      },
      stderr,
      stderrIsTty: process.stderr.isTTY === true,
    });
  } catch (err) {
    if (err instanceof VerifyExit) return err.status;
    if (err instanceof GetoptError) {
      stderr(`${err.message === '' ? '' : `${err.message}\n`}${VERIFY_PROGNAME}: hint: ${VERIFY_HELP_HINT}\n`);
      return 1;
    }
    if (err instanceof PgBasebackupError) {
      if (err.message !== '') stderr(`${VERIFY_PROGNAME}: error: ${err.message}\n`);
      for (const d of err.detail) stderr(`${VERIFY_PROGNAME}: detail: ${d}\n`);
      if (err.hint !== undefined) stderr(`${VERIFY_PROGNAME}: hint: ${err.hint}\n`);
      return 1;
    }
    stderr(`${VERIFY_PROGNAME}: error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
