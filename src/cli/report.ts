/**
 * Printing as PostgreSQL's frontend logging does: "pg_basebackup: error: ...", "pg_basebackup: detail: ...",
 * "pg_basebackup: hint: ...".  getopt's own diagnostics are printed verbatim (glibc prints them), then the hint.
 */
import { PgBasebackupError } from '../errors.js';
import { PROGNAME, type Logger } from '../log.js';
import { GetoptError } from './getopt.js';

export type Write = (text: string) => void;

/** Secrets that must never be printed (the password in use), masked wherever they would appear. */
const secrets = new Set<string>();
export function registerSecret(s: string | undefined): void {
  if (s && s.length >= 1) secrets.add(s);
}
function mask(text: string): string {
  let t = text;
  for (const s of secrets) t = t.split(s).join('********');
  return t;
}

export function formatError(err: unknown): string {
  if (err instanceof GetoptError) {
    return `${err.message === '' ? '' : `${err.message}\n`}${err.hint ? `${PROGNAME}: hint: ${err.hint}\n` : ''}`;
  }
  if (err instanceof PgBasebackupError) {
    let out = `${PROGNAME}: error: ${err.message.replace(/\n+$/, '')}\n`;
    for (const d of err.detail) out += `${PROGNAME}: detail: ${d}\n`;
    if (err.hint) out += `${PROGNAME}: hint: ${err.hint}\n`;
    return out;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return `${PROGNAME}: error: ${msg}\n`;
}

export function printError(err: unknown, write: Write): void {
  write(mask(formatError(err)));
}

export function stderrLogger(write: Write): Logger {
  return {
    info: (m) => write(mask(`${PROGNAME}: ${m}\n`)),
    error: (m) => write(mask(`${PROGNAME}: error: ${m}\n`)),
    warning: (m, detail, hint) => {
      write(mask(`${PROGNAME}: warning: ${m}\n`));
      for (const d of detail ?? []) write(mask(`${PROGNAME}: detail: ${d}\n`));
      if (hint !== undefined) write(mask(`${PROGNAME}: hint: ${hint}\n`));
    },
    notice: (t) => write(mask(t.endsWith('\n') ? t : `${t}\n`)),
    progress: (t) => write(t),
  };
}
