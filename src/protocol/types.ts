/**
 * Contracts between the wire client (src/protocol/), connection resolution (src/conn/) and the
 * backup code (src/backup/, src/wal/).  Keep these stable; extend by adding optional fields.
 */
import type { ServerErrorFields } from '../errors.js';
import type { KeepalivePlan } from './keepalives.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type ChannelBinding = 'disable' | 'prefer' | 'require';

/**
 * One fully resolved attempt at one server address, as libpq's connectDBStart/PQconnectPoll makes it
 * for a single entry of its host list.  src/conn/ builds these from -d, -h/-p/-U, PG* variables,
 * service files and .pgpass; src/protocol/connection.ts opens them.
 */
export interface ConnectAttempt {
  /** Host name, IP address, or (isUnixSocket) the socket directory. */
  host: string;
  /** hostaddr, when given: the numeric address actually dialled (host is then used for TLS/verify-full and .pgpass). */
  hostaddr?: string | undefined;
  port: number;
  /** True when host is a unix-domain socket directory (starts with "/" or "@"): never TLS. */
  isUnixSocket: boolean;
  user: string;
  /** Startup "database" parameter; "replication" for physical replication by default. */
  database: string;
  /** Startup "replication" parameter: 'true' (physical walsender), 'database' (logical), undefined (normal). */
  replication?: 'true' | 'database' | undefined;
  applicationName?: string | undefined;
  fallbackApplicationName?: string | undefined;
  /** PGOPTIONS / options=: command-line options sent as the "options" startup parameter. */
  options?: string | undefined;
  sslMode: SslMode;
  sslRootCert?: string | undefined;
  sslCert?: string | undefined;
  sslKey?: string | undefined;
  sslPassword?: string | undefined;
  /** Minimum protocol e.g. 'TLSv1.2' (ssl_min_protocol_version). */
  sslMinProtocolVersion?: string | undefined;
  channelBinding: ChannelBinding;
  /** Seconds; 0/undefined = wait forever (libpq: values < 2 become 2). */
  connectTimeout?: number | undefined;
  /**
   * Called when the server asks for a password and none was supplied (or to get the supplied one).
   * Returns undefined when no password is available: the connection then fails with
   * "fe_sendauth: no password supplied".
   */
  getPassword: () => Promise<string | undefined>;
  /** TCP keepalives to set once connected (TCP only; src/conn/keepalive-options.ts); default: SO_KEEPALIVE on. */
  keepalives?: KeepalivePlan | undefined;
  /** Extra startup parameters (e.g. from future needs); sent verbatim after the standard ones. */
  extraStartupParams?: Record<string, string> | undefined;
}

/** Column description from RowDescription. */
export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  format: number;
}

/**
 * Events of one simple query, in arrival order, up to (not including) ReadyForQuery.
 * copyData buffers are never reused by the connection: a consumer may keep them.
 */
export type BackendEvent =
  | { kind: 'rowDescription'; fields: FieldDescription[] }
  | { kind: 'dataRow'; values: (Buffer | null)[] }
  | { kind: 'commandComplete'; tag: string }
  | { kind: 'emptyQuery' }
  | { kind: 'copyOutResponse'; format: number; columnFormats: number[] }
  | { kind: 'copyInResponse'; format: number; columnFormats: number[] }
  | { kind: 'copyBothResponse'; format: number; columnFormats: number[] }
  | { kind: 'copyData'; data: Buffer }
  | { kind: 'copyDone' };

/** A completed result set of a simple query, text values decoded as UTF-8. */
export interface ResultSet {
  fields: FieldDescription[];
  rows: (string | null)[][];
  commandTag: string | undefined;
}

export interface NoticeFields extends ServerErrorFields {}

/**
 * Takes one CopyData body.  `transient`: `data` is a view of the connection's reused read buffer,
 * valid only until this call returns: whatever is kept must be copied first.  A returned promise means
 * "wait before the next one" (the socket is paused meanwhile).
 */
export type CopyDataHandler = (data: Buffer, transient: boolean) => void | Promise<void>;

/** A query's events, and optionally CopyData straight from the socket reads (query-iterator.ts). */
export interface BackendEventSource extends AsyncIterator<BackendEvent> {
  /**
   * Hand every CopyData message to `onData` as it is read, without an event per message, until a
   * message of another kind arrives (left for next()) or the connection fails (rejects).  Rejects
   * with what `onData` throws or rejects with, leaving the rest of the response unread.
   */
  pumpCopyData?(onData: CopyDataHandler): Promise<void>;
}
