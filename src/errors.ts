/**
 * Errors of pg-basebackup.  Library code only throws these; the CLI (src/cli/main.ts) is the one
 * boundary that prints them as pg_basebackup does and exits 1.
 *
 * Printed form (see printError in src/cli/report.ts):
 *   pg_basebackup: error: <message>
 *   pg_basebackup: detail: <detail line>      (zero or more)
 *   pg_basebackup: hint: <hint>               (optional)
 */

/** Stable codes for scripts and the library API. */
export type ErrorCode =
  | 'PGBB_USAGE' // bad command line or option combination
  | 'PGBB_CONNECTION' // could not connect / authenticate
  | 'PGBB_SERVER' // the server sent an ErrorResponse
  | 'PGBB_PROTOCOL' // the server sent something we do not understand
  | 'PGBB_FILE' // a local file system operation failed
  | 'PGBB_CHECKSUM' // page checksum failure reported by the server (data kept)
  | 'PGBB_WAL_RECEIVER' // the WAL receiver failed
  | 'PGBB_ABORTED' // cancelled by a signal or AbortSignal
  | 'PGBB_INTERNAL';

export interface ErrorOptions {
  detail?: string | string[] | undefined;
  hint?: string | undefined;
  cause?: unknown;
}

export class PgBasebackupError extends Error {
  readonly code: ErrorCode;
  readonly exitCode = 1;
  readonly detail: string[];
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    const d = options.detail;
    this.detail = d === undefined ? [] : Array.isArray(d) ? d : [d];
    this.hint = options.hint;
  }
}

export const HELP_HINT = 'Try "pg_basebackup --help" for more information.';

/** A command-line or option-combination error; carries pg's "Try --help" hint when pg prints it. */
export class UsageError extends PgBasebackupError {
  constructor(message: string, options: { hint?: boolean | string; detail?: string | string[] } = {}) {
    const hint = options.hint === true ? HELP_HINT : options.hint === false ? undefined : options.hint;
    super('PGBB_USAGE', message, { hint, detail: options.detail });
  }
}

/** Connection establishment failed; message is libpq's text (possibly several lines, one per host tried). */
export class ConnectionError extends PgBasebackupError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('PGBB_CONNECTION', message, options);
  }
}

/** Fields of a backend ErrorResponse / NoticeResponse, by protocol field code. */
export interface ServerErrorFields {
  severity: string; // S (localized) or V
  severityNonLocalized?: string | undefined; // V
  code: string; // C: SQLSTATE
  message: string; // M
  detail?: string | undefined; // D
  hint?: string | undefined; // H
  position?: string | undefined; // P
  internalPosition?: string | undefined; // p
  internalQuery?: string | undefined; // q
  where?: string | undefined; // W
  schema?: string | undefined; // s
  table?: string | undefined; // t
  column?: string | undefined; // c
  dataType?: string | undefined; // d
  constraint?: string | undefined; // n
  file?: string | undefined; // F
  line?: string | undefined; // L
  routine?: string | undefined; // R
}

/**
 * An ErrorResponse from the server.  `message` is what libpq's PQerrorMessage() would give for it,
 * i.e. "ERROR:  <message>" followed by "DETAIL:  ..." / "HINT:  ..." lines; pg_basebackup wraps it
 * as e.g. `could not initiate base backup: %s`.  Use `wrap()` for that.
 */
export class ServerError extends PgBasebackupError {
  readonly fields: ServerErrorFields;
  readonly sqlState: string;

  constructor(fields: ServerErrorFields, message?: string, code: ErrorCode = 'PGBB_SERVER') {
    super(code, message ?? formatServerMessage(fields));
    this.fields = fields;
    this.sqlState = fields.code;
  }

  /** The same server error with pg_basebackup's context prefix, e.g. wrap('could not initiate base backup'). */
  wrap(prefix: string, code: ErrorCode = this.code): ServerError {
    return new ServerError(this.fields, `${prefix}: ${this.message}`, code);
  }
}

/** libpq's PQerrorMessage() text for an error result (default verbosity), without the trailing newline. */
export function formatServerMessage(f: ServerErrorFields): string {
  let s = `${f.severity}:  ${f.message}`;
  if (f.detail !== undefined) s += `\nDETAIL:  ${f.detail}`;
  if (f.hint !== undefined) s += `\nHINT:  ${f.hint}`;
  return s;
}

/** Unexpected or malformed data from the server. */
export class ProtocolError extends PgBasebackupError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('PGBB_PROTOCOL', message, options);
  }
}

/** A local file system failure; message already formatted the way pg does ("could not ... \"%s\": %m"). */
export class FileError extends PgBasebackupError {
  readonly path: string | undefined;
  constructor(message: string, path?: string, options: ErrorOptions = {}) {
    super('PGBB_FILE', message, options);
    this.path = path;
  }
}

/** strerror(3) text for a Node.js system error, as pg's %m prints it. */
export function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'No such file or directory';
    case 'EEXIST': return 'File exists';
    case 'EACCES': return 'Permission denied';
    case 'EPERM': return 'Operation not permitted';
    case 'ENOTDIR': return 'Not a directory';
    case 'EISDIR': return 'Is a directory';
    case 'ENOTEMPTY': return 'Directory not empty';
    case 'ENOSPC': return 'No space left on device';
    case 'EROFS': return 'Read-only file system';
    case 'EMFILE': return 'Too many open files';
    case 'ENAMETOOLONG': return 'File name too long';
    case 'ELOOP': return 'Too many levels of symbolic links';
    case 'EIO': return 'Input/output error';
    case 'EBADF': return 'Bad file descriptor';
    case 'EINVAL': return 'Invalid argument';
    case 'EPIPE': return 'Broken pipe';
    case 'ECONNREFUSED': return 'Connection refused';
    case 'ECONNRESET': return 'Connection reset by peer';
    case 'ETIMEDOUT': return 'Connection timed out';
    case 'EHOSTUNREACH': return 'No route to host';
    case 'ENETUNREACH': return 'Network is unreachable';
    case 'EADDRNOTAVAIL': return 'Cannot assign requested address';
    case undefined: return err instanceof Error ? err.message : String(err);
    default: return (err as Error).message ?? String(code);
  }
}
