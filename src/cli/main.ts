#!/usr/bin/env node
/**
 * The pg_basebackup command.  The one error boundary: every failure is printed with pg's wording and
 * exits 1; --help and --version exit 0.
 */
import { readFileSync } from 'node:fs';
import { runBaseBackup } from '../backup/base-backup.js';
import { ConnectionFactory } from '../conn/connect.js';
import { formatServerMessage } from '../errors.js';
import { helpText, versionText } from './help.js';
import { parseCommandLine } from './parse-args.js';
import { printError, registerSecret, stderrLogger } from './report.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

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
      process.stdout.write(`${versionText(packageVersion())}\n`);
      return 0;
    }
    const o = parsed.options;
    const factory = new ConnectionFactory(
      {
        connInfo: o.connInfo,
        host: o.host,
        port: o.port,
        user: o.user,
        passwordMode: o.passwordMode,
        replication: 'true',
        fallbackApplicationName: 'pg_basebackup',
        keepExplicitDbname: true,
      },
      { warn: (m) => write(`${m}\n`) },
    );
    await runBaseBackup(o, {
      logger,
      connect: async () => {
        const conn = await factory.connect({ onNotice: (n) => logger.notice(formatServerMessage(n)) });
        registerSecret(factory.password);
        return conn;
      },
      recoveryConnInfo: (conn, opts) => factory.recoveryConnInfo(conn, opts),
      stdout: process.stdout,
      stderrIsTty: process.stderr.isTTY === true,
      onError: (err) => {
        reported = true;
        printError(err, write);
      },
    });
    return 0;
  } catch (err) {
    if (!reported) printError(err, write);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Let stdout (possibly a pipe carrying the archive) drain before exiting.
process.stdout.write('', () => process.exit(code));
