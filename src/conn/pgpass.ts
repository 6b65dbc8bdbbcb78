/**
 * The password file (fe-connect.c: passwordFromFile, pwdfMatchesString).
 *
 * Lines are `hostname:port:database:username:password`; `*` matches anything; `\` escapes `:` and
 * `\`; lines starting with `#` are comments; the first matching line wins.  A file with group or world
 * permissions is ignored with a warning, as is one that is not a plain file.
 */
import { readFileSync, statSync } from 'node:fs';

/** libpq's DefaultHost: what an empty host, or the default socket directory, is matched as. */
export const PGPASS_DEFAULT_HOST = 'localhost';
const DEFAULT_PORT = '5432';

export interface PasswordLookup {
  /** The host entry (host, or hostaddr when host is empty). */
  hostname: string | undefined;
  /** The port entry as text; empty means 5432. */
  port: string | undefined;
  /** The database name actually sent, e.g. "replication". */
  dbname: string | undefined;
  user: string | undefined;
  passFile: string;
  /** DEFAULT_PGSOCKET_DIR: a host equal to it is matched as "localhost". */
  defaultSocketDir: string;
  warn: (message: string) => void;
}

/**
 * Match one field at the start of `line` against `token`.  Returns the rest of the line after the
 * field's `:`, or undefined when the field does not match.
 */
export function matchPgpassField(line: string, token: string): string | undefined {
  if (line.startsWith('*:')) return line.slice(2);
  let t = 0;
  let i = 0;
  let escaped = false;
  while (i < line.length) {
    if (line[i] === '\\' && !escaped) {
      i++;
      escaped = true;
    }
    if (line[i] === ':' && t === token.length && !escaped) return line.slice(i + 1);
    escaped = false;
    if (t === token.length) return undefined;
    if (i < line.length && line[i] === token[t]) {
      i++;
      t++;
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** The password field: up to the first unescaped `:`, with escapes removed. */
function unescapePassword(rest: string): string {
  let out = '';
  for (let i = 0; i < rest.length && rest[i] !== ':'; i++) {
    if (rest[i] === '\\' && i + 1 < rest.length) i++;
    out += rest[i];
  }
  return out;
}

/** Strip trailing newline and carriage-return characters (pg_strip_crlf). */
function stripCrlf(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === '\n' || line[end - 1] === '\r')) end--;
  return line.slice(0, end);
}

function isUnixSocketPath(host: string): boolean {
  return host.startsWith('/') || host.startsWith('@');
}

/** Look a password up in the password file; undefined when none matches or the file is unusable. */
export function passwordFromFile(lookup: PasswordLookup): string | undefined {
  const { dbname, user, passFile } = lookup;
  if (dbname === undefined || dbname === '') return undefined;
  if (user === undefined || user === '') return undefined;

  let hostname = lookup.hostname;
  if (hostname === undefined || hostname === '') hostname = PGPASS_DEFAULT_HOST;
  else if (isUnixSocketPath(hostname) && hostname === lookup.defaultSocketDir) hostname = PGPASS_DEFAULT_HOST;
  const port = lookup.port === undefined || lookup.port === '' ? DEFAULT_PORT : lookup.port;

  let st;
  try {
    st = statSync(passFile);
  } catch {
    return undefined;
  }
  if (!st.isFile()) {
    lookup.warn(`WARNING: password file "${passFile}" is not a plain file`);
    return undefined;
  }
  if ((st.mode & 0o077) !== 0) {
    lookup.warn(`WARNING: password file "${passFile}" has group or world access; permissions should be u=rw (0600) or less`);
    return undefined;
  }

  let contents: string;
  try {
    contents = readFileSync(passFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const rawLine of contents.split('\n')) {
    if (rawLine.startsWith('#')) continue;
    const line = stripCrlf(rawLine);
    if (line === '') continue;
    let rest = matchPgpassField(line, hostname);
    if (rest !== undefined) rest = matchPgpassField(rest, port);
    if (rest !== undefined) rest = matchPgpassField(rest, dbname);
    if (rest !== undefined) rest = matchPgpassField(rest, user);
    if (rest !== undefined) return unescapePassword(rest);
  }
  return undefined;
}
