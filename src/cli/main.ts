#!/usr/bin/env node
/**
 * The pg_basebackup command.  The one error boundary: every failure is printed with pg's wording and
 * exits 1; --help and --version exit 0.
 */
import { runBackup } from '../backup/run-backup.js';
import { toolVersion } from '../backup/tool-version.js';
import { promptPassword } from '../conn/prompt-password.js';
import { parseJsonEventsDestination } from '../events/json-lines.js';
import { PROGNAME } from '../log.js';
import { helpText, versionText } from './help.js';
import { useMidTierOptimizerOnly } from './optimizing-tiers.js';
import { parseCommandLine } from './parse-args.js';
import { printError, registerSecret, stderrLogger } from './report.js';
import { installStopSignals } from './signals.js';

/** A signal stopped the run (see the exit below). */
let interrupted = false;

export async function main(argv: string[]): Promise<number> {
  const write = (t: string) => {
    process.stderr.write(t);
  };
  const logger = stderrLogger(write);
  let reported = false;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      process.stdout.write(helpText());
      return 0;
    }
    if (parsed.kind === 'version') {
      process.stdout.write(`${versionText(toolVersion())}\n`);
      return 0;
    }
    const o = parsed.options;
    // The command line is a thin layer over the library's runner (src/backup/run-backup.ts).
    const dest = o.jsonEvents === undefined ? undefined : parseJsonEventsDestination(o.jsonEvents);
    const eventsOnStderr = dest?.kind === 'fd' && dest.fd === 2;
    const stop = installStopSignals((sig) => {
      write(`${PROGNAME}: error: interrupted by signal ${sig} again, exiting at once\n`);
      process.exit(1);
    });
    try {
      await runBackup(o, {
        logger,
        signal: stop.signal,
        stdout: process.stdout,
        // JSON lines on stderr: no "\r" redraws between them.
        stderrIsTty: process.stderr.isTTY === true && !eventsOnStderr,
        promptPassword: (p) => promptPassword(p),
        onPassword: registerSecret,
        warn: (m) => write(`${m}\n`),
        onError: (err) => {
          reported = true;
          printError(err, write);
        },
      });
    } finally {
      interrupted = stop.signal.aborted;
      // A stopped run keeps its handlers until it exits: another delivery of the same request (timeout(1)
      // sends two) must not kill it by the default action between cleanup and exit.
      if (!interrupted) stop.dispose();
    }
    return 0;
  } catch (err) {
    if (!reported) printError(err, write);
    return 1;
  }
}

useMidTierOptimizerOnly();
const code = await main(process.argv.slice(2));
// A run stopped by a signal does not wait for a reader of stdout that may have stopped reading (the
// archive there is incomplete anyway); otherwise let stdout (possibly the archive) drain first.
if (interrupted && code !== 0) process.exit(code);
process.stdout.write('', () => process.exit(code));
