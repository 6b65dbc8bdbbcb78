/**
 * libpq's connection error texts (fe-connect.c, fe-secure*.c, fe-misc.c), and the ConnectionError shape
 * PgConnection.open() throws: message exactly as PQerrorMessage() gives it after a failed connect,
 * plus what PQconnectionNeedsPassword() and the server's SQLSTATE would tell a caller.
 */
import { ConnectionError, strerror, type ServerErrorFields } from '../errors.js';
import type { ConnectAttempt } from './types.js';

/** Where one attempt dials: a unix socket file, or one resolved TCP address. */
export type DialTarget =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; address: string; family: number; port: number };

export interface ConnectFailureInfo {
  /** PQconnectionNeedsPassword(): the server asked for a password and none was supplied. */
  passwordNeeded: boolean;
  /** SQLSTATE of the server's ErrorResponse, when the server refused the connection. */
  sqlState?: string | undefined;
  /** The server's ErrorResponse fields, when the server refused the connection. */
  serverError?: ServerErrorFields | undefined;
  /**
   * No server answered: every address failed to resolve, connect or time out.  libpq tries the next
   * host entry only then (or after 57P03); any other failure ends PQconnectPoll.
   */
  beforeServerResponse: boolean;
}

/** A ConnectionError carrying ConnectFailureInfo (see isConnectFailure). */
export type ConnectFailure = ConnectionError & ConnectFailureInfo;

/** Build a ConnectionError with the extra fields callers (src/conn) need to decide on a retry. */
export function connectFailure(message: string, info: Partial<ConnectFailureInfo> = {}, cause?: unknown): ConnectFailure {
  const err = new ConnectionError(message, cause === undefined ? {} : { cause });
  return Object.assign(err, {
    passwordNeeded: info.passwordNeeded ?? false,
    sqlState: info.sqlState,
    serverError: info.serverError,
    beforeServerResponse: info.beforeServerResponse ?? false,
  });
}

export function isConnectFailure(e: unknown): e is ConnectFailure {
  return e instanceof ConnectionError && typeof (e as Partial<ConnectFailureInfo>).passwordNeeded === 'boolean';
}

export const NO_PASSWORD_SUPPLIED = 'fe_sendauth: no password supplied';

export const SERVER_CLOSED_UNEXPECTEDLY =
  'server closed the connection unexpectedly\n' +
  '\tThis probably means the server terminated abnormally\n' +
  '\tbefore or while processing the request.';

/** The path of a server's unix socket: `${dir}/.s.PGSQL.${port}` (UNIXSOCK_PATH). */
export function unixSocketPath(dir: string, port: number): string {
  return `${dir}/.s.PGSQL.${port}`;
}

/** emitHostIdentityInfo(): the "connection to server ... failed: " prefix of every per-address error. */
export function hostIdentityPrefix(attempt: ConnectAttempt, target: DialTarget): string {
  if (target.kind === 'unix') return `connection to server on socket "${target.path}" failed: `;
  const usesHostaddr = attempt.hostaddr !== undefined && attempt.hostaddr !== '';
  const displayed = usesHostaddr ? (attempt.hostaddr as string) : attempt.host;
  if (!usesHostaddr && displayed !== target.address) {
    return `connection to server at "${displayed}" (${target.address}), port ${target.port} failed: `;
  }
  return `connection to server at "${displayed}", port ${target.port} failed: `;
}

/** connectFailureMessage(): connect() failed, so there is probably no server there. */
export function connectFailureText(err: unknown, target: DialTarget): string {
  const hint =
    target.kind === 'unix'
      ? '\tIs the server running locally and accepting connections on that socket?'
      : '\tIs the server running on that host and accepting TCP/IP connections?';
  return `${strerror(err)}\n${hint}`;
}

/** gai_strerror() for a failed dns.lookup(). */
export function gaiStrerror(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOTFOUND':
    case 'EAI_NONAME':
      return 'Name or service not known';
    case 'EAI_AGAIN':
      return 'Temporary failure in name resolution';
    case 'EAI_FAIL':
      return 'Non-recoverable failure in name resolution';
    case 'ENODATA':
      return 'No address associated with hostname';
    case 'EAI_FAMILY':
      return 'ai_family not supported';
    case 'EAI_MEMORY':
      return 'Memory allocation failure';
    default:
      return strerror(err);
  }
}

/** OpenSSL's reason text of a Node TLS error, when it has one. */
export function sslReason(err: unknown): string | undefined {
  const e = err as { reason?: unknown; library?: unknown; code?: unknown } | undefined;
  if (typeof e?.reason === 'string' && e.reason !== '') return e.reason;
  return undefined;
}

/**
 * The text libpq gives when the socket fails or closes while it waits for the server
 * (pqReadData / pqsecure_raw_read / pgtls_read).  `err` undefined means a clean EOF.
 */
export function socketFailureText(err: unknown): string {
  if (err === undefined) return SERVER_CLOSED_UNEXPECTEDLY;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return SERVER_CLOSED_UNEXPECTEDLY;
  const reason = sslReason(err);
  if (reason !== undefined) return `SSL error: ${reason}`;
  const syscall = (err as NodeJS.ErrnoException).syscall;
  if (syscall === 'write') return `could not send data to server: ${strerror(err)}`;
  return `could not receive data from server: ${strerror(err)}`;
}
