/**
 * PgConnection: one open connection speaking protocol 3.0 (simple query protocol and COPY), as
 * pg_basebackup uses libpq.  Open one with PgConnection.open(attempt) per host entry (src/conn/ loops
 * over hosts and prompts for a password when the thrown ConnectFailure says `passwordNeeded`).
 *
 * Incoming data is queued with a bound (see backend-channel.ts): a consumer that stops pulling a COPY
 * stream pauses the socket.  CopyData buffers handed out are never reused.
 */
import { connect as netConnect } from 'node:net';
import { ConnectionError, PgBasebackupError, ProtocolError, strerror } from '../errors.js';
import type { BackendChannel, ChannelStats } from './backend-channel.js';
import { BackendMessageType as B, decodeErrorFields, decodeParameterStatus } from './backend-messages.js';
import type { DialTarget } from './connect-errors.js';
import { establishConnection, type EstablishOptions } from './establish.js';
import type { BackendFrame } from './frame-reader.js';
import { cancelRequest, copyDataHeader, copyDone, copyFail, terminate } from './frontend-messages.js';
import { QueryIterator, type QueryHost } from './query-iterator.js';
import { ResultSetCollector } from './result-sets.js';
import { parseServerVersionNum } from './server-version.js';
import type { BackendEvent, BackendEventSource, ConnectAttempt, NoticeFields, ResultSet } from './types.js';

export interface OpenOptions extends EstablishOptions {
  /** Called with every NoticeResponse (during startup too). */
  onNotice?: ((n: NoticeFields) => void) | undefined;
  signal?: AbortSignal | undefined;
}

const CANCEL_TIMEOUT_MS = 10_000;

export class PgConnection implements QueryHost {
  /** ParameterStatus values, kept up to date. */
  readonly parameters: Map<string, string>;
  readonly backendPid: number;
  readonly secretKey: Buffer;
  /** The connection is encrypted with TLS. */
  readonly tls: boolean;
  /** The host as named in the attempt (a name, an address or a socket directory). */
  readonly host: string;
  readonly port: number;
  /** What was actually dialled: the IP address, or the socket file for unix sockets. */
  readonly address: string;
  /** PQconnectionUsedPassword(): the server asked for a password and one was sent. */
  readonly passwordUsed: boolean;

  private active: QueryIterator | undefined;
  private idlePromise: Promise<void> = Promise.resolve();
  private brokenBy: PgBasebackupError | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly attempt: ConnectAttempt,
    readonly channel: BackendChannel,
    private readonly target: DialTarget,
    tls: boolean,
    startup: { parameters: Map<string, string>; backendPid: number; secretKey: Buffer; passwordUsed: boolean },
    private readonly onNotice: ((n: NoticeFields) => void) | undefined,
  ) {
    this.parameters = startup.parameters;
    this.backendPid = startup.backendPid;
    this.secretKey = startup.secretKey;
    this.passwordUsed = startup.passwordUsed;
    this.tls = tls;
    this.host = attempt.host;
    this.port = attempt.port;
    this.address = target.kind === 'unix' ? target.path : target.address;
  }

  /**
   * Connect to the one server of `attempt` (all its addresses, with libpq's sslmode retries).
   * Rejects with a ConnectFailure (a ConnectionError with `passwordNeeded`, `sqlState`, `serverError`)
   * whose message is libpq's, or with PGBB_ABORTED when `opts.signal` fires.
   */
  static async open(attempt: ConnectAttempt, opts: OpenOptions = {}): Promise<PgConnection> {
    const est = await establishConnection(attempt, opts);
    return new PgConnection(attempt, est.channel, est.target, est.tls, est.startup, opts.onNotice);
  }

  /** The server_version parameter, e.g. "16.4 (Debian 16.4-1)". */
  get serverVersion(): string {
    return this.parameters.get('server_version') ?? '';
  }

  /** PQserverVersion(), e.g. 150018. */
  get serverVersionNum(): number {
    return parseServerVersionNum(this.serverVersion);
  }

  /** The connection was torn down (by an error, destroy() or close()). */
  get broken(): boolean {
    return this.brokenBy !== undefined || this.closing !== undefined || this.channel.closed;
  }

  /** Receive-queue statistics (socket pauses, queued bytes). */
  get stats(): Readonly<ChannelStats> {
    return this.channel.stats;
  }

  get idle(): Promise<void> {
    return this.idlePromise;
  }

  /**
   * Run one simple Query; yields its events up to ReadyForQuery (see query-iterator.ts for errors,
   * and for what return() does).  Only one query at a time.
   */
  query(sql: string): AsyncIterableIterator<BackendEvent> & BackendEventSource {
    if (this.closing !== undefined || this.brokenBy !== undefined) {
      throw new ConnectionError('no connection to the server', { cause: this.brokenBy });
    }
    if (this.active !== undefined) throw new PgBasebackupError('PGBB_INTERNAL', 'another command is already in progress');
    const it = new QueryIterator(this, sql);
    this.active = it;
    return it;
  }

  /** Run a query and collect its result sets (text values); rejects with ServerError on an ErrorResponse. */
  async simpleQuery(sql: string): Promise<ResultSet[]> {
    const collector = new ResultSetCollector();
    for await (const ev of this.query(sql)) {
      if (ev.kind === 'copyInResponse' || ev.kind === 'copyBothResponse') this.sendCopyFail('COPY is not supported by simpleQuery');
      collector.add(ev);
    }
    return collector.finish();
  }

  /**
   * Send CopyData while the active query is in COPY IN or COPY BOTH mode (allowed while its iterator
   * is waiting for data).  Returns false, sending nothing, when no COPY accepts data any more or the
   * connection is gone (the query's iterator reports why).
   */
  sendCopyData(buf: Buffer): boolean {
    if (!this.copyOpen()) return false;
    this.channel.write(copyDataHeader(buf.length));
    this.channel.write(buf);
    return true;
  }

  /** End our side of COPY IN / COPY BOTH.  Returns false when there was no COPY to end. */
  sendCopyDone(): boolean {
    if (!this.copyOpen()) return false;
    this.channel.write(copyDone());
    return true;
  }

  /** Abort COPY IN / COPY BOTH with an error message. */
  sendCopyFail(message: string): boolean {
    if (!this.copyOpen()) return false;
    this.channel.write(copyFail(message));
    return true;
  }

  /** Resolves when everything written so far has left the socket's buffer. */
  flush(): Promise<void> {
    return this.channel.flush();
  }

  /** Ask the server to cancel the running command: CancelRequest over a new socket to the same address. */
  cancel(): Promise<void> {
    const t = this.target;
    return new Promise<void>((resolve, reject) => {
      const s = t.kind === 'unix' ? netConnect({ path: t.path.startsWith('@') ? `\0${t.path.slice(1)}` : t.path }) : netConnect({ host: t.address, port: t.port, family: t.family });
      const timer = setTimeout(() => s.destroy(), CANCEL_TIMEOUT_MS);
      s.once('connect', () => s.write(cancelRequest(this.backendPid, this.secretKey)));
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(new ConnectionError(`could not send cancel request: ${strerror(e)}`, { cause: e }));
      });
      // The postmaster closes the socket once it has processed the request.
      s.once('close', (hadError) => {
        clearTimeout(timer);
        if (!hadError) resolve();
      });
      s.resume();
    });
  }

  /**
   * Send Terminate and close; idempotent.  With a COPY in progress the socket is destroyed instead
   * (the server would not read the Terminate).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.active?.acceptsCopyData || this.channel.closed || this.brokenBy !== undefined) {
        this.channel.destroy(new ConnectionError('connection to server was closed'));
        return;
      }
      this.channel.write(terminate());
      await this.channel.end();
    })();
    return this.closing;
  }

  /** Tear the connection down at once; pending and later operations fail (with `err` if given). */
  destroy(err?: Error): void {
    const e = err instanceof PgBasebackupError ? err : new ConnectionError(err?.message ?? 'connection to server was closed', { cause: err });
    this.brokenBy ??= e;
    this.channel.destroy(e);
  }

  // ---- QueryHost ----

  handleAsyncMessage(f: BackendFrame): boolean {
    switch (f.type) {
      case B.NoticeResponse:
        this.onNotice?.(decodeErrorFields(f.type, f.body));
        return true;
      case B.ParameterStatus: {
        const { name, value } = decodeParameterStatus(f.body);
        this.parameters.set(name, value);
        return true;
      }
      case B.NotificationResponse:
        return true;
      default:
        return false;
    }
  }

  queryEnded(it: QueryIterator, broken?: PgBasebackupError): void {
    if (this.active === it) this.active = undefined;
    if (broken !== undefined) this.destroy(broken);
  }

  queryAbandoned(it: QueryIterator, rest: Promise<void>): void {
    if (this.active === it) this.active = undefined;
    this.idlePromise = rest.catch((e: unknown) => {
      this.destroy(e instanceof Error ? e : new ProtocolError(String(e)));
    });
  }

  private copyOpen(): boolean {
    return this.active?.acceptsCopyData === true && !this.channel.closed;
  }
}
