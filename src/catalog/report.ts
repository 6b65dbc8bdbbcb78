/**
 * Printing: `pg-basebackup-catalog: <message>`, `... warning: ...`, `... error: ...`, `... detail:`,
 * `... hint:` (pg's frontend logging), exit status 1 on every failure.  The messages of the backup
 * code running inside (pg_basebackup's) are printed with this program's name.
 */
import { GetoptError } from '../cli/getopt.js';
import { HELP_HINT, PgBasebackupError } from '../errors.js';
import type { Logger } from '../log.js';
import { CATALOG_PROGNAME as P } from './catalog-error.js';
import { CATALOG_HELP_HINT } from './options.js';

export type Write = (text: string) => void;

export interface CatalogLog {
  info(message: string): void;
  warning(message: string, detail?: string[]): void;
  error(message: string, detail?: string[]): void;
}

export function stderrCatalogLog(write: Write): CatalogLog {
  return {
    info: (m) => write(`${P}: ${m}\n`),
    warning: (m, detail) => write(`${P}: warning: ${m}\n${(detail ?? []).map((d) => `${P}: detail: ${d}\n`).join('')}`),
    error: (m, detail) => write(`${P}: error: ${m}\n${(detail ?? []).map((d) => `${P}: detail: ${d}\n`).join('')}`),
  };
}

/** The base backup code's Logger, printing under this program's name. */
export function backupLogger(write: Write, verbose: boolean): Logger {
  return {
    info: (m) => {
      if (verbose) write(`${P}: ${m}\n`);
    },
    error: (m) => write(`${P}: error: ${m}\n`),
    warning: (m, detail, hint) => {
      write(`${P}: warning: ${m}\n`);
      for (const d of detail ?? []) write(`${P}: detail: ${d}\n`);
      if (hint !== undefined) write(`${P}: hint: ${hint}\n`);
    },
    notice: (t) => write(t.endsWith('\n') ? t : `${t}\n`),
    progress: (t) => write(t),
  };
}

export function formatCatalogError(err: unknown): string {
  if (err instanceof GetoptError) {
    return `${err.message === '' ? '' : `${err.message}\n`}${P}: hint: ${CATALOG_HELP_HINT}\n`;
  }
  if (err instanceof PgBasebackupError) {
    let out = `${P}: error: ${err.message.replace(/\n+$/, '')}\n`;
    for (const d of err.detail) out += `${P}: detail: ${d}\n`;
    if (err.hint) out += `${P}: hint: ${err.hint === HELP_HINT ? CATALOG_HELP_HINT : err.hint}\n`;
    return out;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return `${P}: error: ${msg}\n`;
}
