/**
 * One backup from validated options to result, shared by the command line and the library API:
 * connections made the way pg_basebackup makes them (libpq's rules, src/conn/), `--json-events`
 * written where asked, and runBaseBackup() in pg's order.
 *
 * Connections opened once the signal has fired are made without it: they belong to the cleanup
 * (e.g. dropping a slot this run created with -C), which must still be able to connect.
 */
import type { Writable } from 'node:stream';
import { ConnectionFactory } from '../conn/connect.js';
import { formatServerMessage } from '../errors.js';
import { JsonLinesSink, parseJsonEventsDestination } from '../events/json-lines.js';
import type { BackupEventListener } from '../events/types.js';
import type { Logger } from '../log.js';
import type { BackupOptions } from '../options/backup-options.js';
import { runBaseBackup, type BaseBackupResult } from './base-backup.js';

export interface BackupHost {
  logger: Logger;
  signal?: AbortSignal | undefined;
  onEvent?: BackupEventListener | undefined;
  /** Where `-D -` writes. */
  stdout: Writable;
  /** stderr is a terminal: pg's "\r" progress, or the live bar. */
  stderrIsTty: boolean;
  /** Ask for a password when the server wants one (the CLI prompts on the terminal); absent: never ask. */
  promptPassword?: ((prompt: string) => Promise<string>) | undefined;
  /** The libpq environment (PGHOST, PGPASSWORD ...); default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Told the password in use after each connection (the CLI masks it in messages). */
  onPassword?: ((password: string | undefined) => void) | undefined;
  /** Called with the error before cleanup runs (pg's message order). */
  onError?: ((err: unknown) => void) | undefined;
  /** libpq's own warnings (e.g. a .pgpass readable by others), printed verbatim; default logger.warning. */
  warn?: ((message: string) => void) | undefined;
}

export async function runBackup(o: BackupOptions, host: BackupHost): Promise<BaseBackupResult> {
  const { logger, signal } = host;
  const sink = o.jsonEvents === undefined ? undefined : JsonLinesSink.open(parseJsonEventsDestination(o.jsonEvents), (m) => logger.warning(m));
  const onEvent: BackupEventListener | undefined =
    sink === undefined
      ? host.onEvent
      : (ev) => {
          sink.write(ev);
          host.onEvent?.(ev);
        };
  const canPrompt = host.promptPassword !== undefined;
  const factory = new ConnectionFactory(
    {
      connInfo: o.connInfo,
      host: o.host,
      port: o.port,
      user: o.user,
      passwordMode: canPrompt ? o.passwordMode : 'never',
      replication: 'true',
      fallbackApplicationName: 'pg_basebackup',
      keepExplicitDbname: true,
    },
    {
      warn: host.warn ?? ((m) => logger.warning(m)),
      ...(host.promptPassword !== undefined ? { promptPassword: host.promptPassword } : {}),
      ...(host.env !== undefined ? { env: host.env } : {}),
    },
  );
  try {
    return await runBaseBackup(o, {
      logger,
      connect: async () => {
        const conn = await factory.connect({
          onNotice: (n) => logger.notice(formatServerMessage(n)),
          signal: signal?.aborted ? undefined : signal,
        });
        host.onPassword?.(factory.password);
        return conn;
      },
      recoveryConnInfo: (conn, opts) => factory.recoveryConnInfo(conn, opts),
      stdout: host.stdout,
      stderrIsTty: host.stderrIsTty,
      signal,
      onError: host.onError,
      onEvent,
    });
  } finally {
    sink?.close();
  }
}
