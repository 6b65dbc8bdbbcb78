/**
 * One simple Query as an async iterator of BackendEvents, up to (not including) ReadyForQuery.
 *
 * - The Query message is sent on the first next().
 * - NoticeResponse, ParameterStatus and NotificationResponse are handled by the connection, not yielded.
 * - An ErrorResponse is thrown at once (as libpq's PQgetResult returns it at once); the rest of the
 *   response, up to ReadyForQuery, is read and discarded in the background so the connection stays
 *   usable.  A server that sends no ReadyForQuery within ERROR_DRAIN_MS after its error (stays open,
 *   says nothing) has its connection torn down: the next query fails instead of waiting forever.
 * - CopyData bodies are never reused: consumers may keep them.
 * - return() before the end (e.g. `break` in for-await): outside COPY the rest of the result is read
 *   and discarded in the background (the next query waits for it); inside COPY (in, out or both) the
 *   connection is destroyed, since the server would not stop by itself.
 */
import { ProtocolError, ServerError, type PgBasebackupError } from '../errors.js';
import type { BackendChannel } from './backend-channel.js';
import {
  BackendMessageType as B,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDataRow,
  decodeErrorFields,
  decodeRowDescription,
} from './backend-messages.js';
import type { BackendFrame } from './frame-reader.js';
import { queryMessage } from './frontend-messages.js';
import type { BackendEvent, BackendEventSource, CopyDataHandler } from './types.js';

/** What a QueryIterator needs from its connection. */
export interface QueryHost {
  readonly channel: BackendChannel;
  /** Resolves when a previous abandoned query has been drained. */
  readonly idle: Promise<void>;
  /** Handle NoticeResponse / ParameterStatus / NotificationResponse; true if the frame was one. */
  handleAsyncMessage(frame: BackendFrame): boolean;
  /** The iterator no longer needs the connection. `broken`: tear the connection down with this error. */
  queryEnded(it: QueryIterator, broken?: PgBasebackupError): void;
  /** The iterator was abandoned outside COPY: the connection drains `rest` before the next query. */
  queryAbandoned(it: QueryIterator, rest: Promise<void>): void;
}

type Mode = 'results' | 'copy-in' | 'copy-out' | 'copy-both';

/** How long the rest of a failed query's response (its ReadyForQuery) is waited for in the background. */
export const ERROR_DRAIN_MS = 10_000;

export class QueryIterator implements AsyncIterableIterator<BackendEvent>, BackendEventSource {
  private started = false;
  private done = false;
  private mode: Mode = 'results';
  private pendingError: ServerError | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: QueryHost,
    private readonly sql: string,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** True while the server is in COPY IN or COPY BOTH mode for this query (CopyData may be sent). */
  get acceptsCopyData(): boolean {
    return !this.done && (this.mode === 'copy-in' || this.mode === 'copy-both');
  }

  next(): Promise<IteratorResult<BackendEvent>> {
    const p = this.chain.then(() => this.step());
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * In COPY OUT (or BOTH): CopyData straight from the channel (backend-channel.ts pumpCopyData) until
   * another message is next, which next() then reads as usual.  Outside COPY it returns at once.  A
   * connection that fails meanwhile ends the query, as in next().
   */
  pumpCopyData(onData: CopyDataHandler): Promise<void> {
    const p = this.chain.then(async () => {
      if (this.done || this.pendingError !== undefined || (this.mode !== 'copy-out' && this.mode !== 'copy-both')) return;
      const channel = this.host.channel;
      try {
        await channel.pumpCopyData(onData);
      } catch (e) {
        if (channel.closed) this.end(e as PgBasebackupError, true);
        throw e;
      }
    });
    this.chain = p.catch(() => undefined);
    return p;
  }

  return(): Promise<IteratorResult<BackendEvent>> {
    const p = this.chain.then(() => this.abandon());
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async step(): Promise<IteratorResult<BackendEvent>> {
    if (this.done) return { done: true, value: undefined };
    if (!this.started) {
      this.started = true;
      await this.host.idle;
      this.host.channel.write(queryMessage(this.sql));
    }
    for (;;) {
      let f: BackendFrame;
      try {
        f = await this.host.channel.read();
      } catch (e) {
        this.end(e as PgBasebackupError, true);
        throw this.pendingError ?? e;
      }
      let ev: BackendEvent | undefined;
      try {
        ev = this.handle(f);
      } catch (e) {
        throw this.end(e as PgBasebackupError, true);
      }
      if (this.done) {
        if (this.pendingError !== undefined) throw this.pendingError;
        return { done: true, value: undefined };
      }
      if (this.pendingError !== undefined) {
        const err = this.pendingError;
        const severity = err.fields.severityNonLocalized ?? err.fields.severity;
        // FATAL and PANIC end the session: the server closes the connection.
        if (severity === 'FATAL' || severity === 'PANIC') {
          this.end(err as unknown as PgBasebackupError, true);
          throw err;
        }
        this.done = true;
        this.host.queryAbandoned(this, this.drainAfterError());
        throw err;
      }
      if (ev !== undefined) return { done: false, value: ev };
    }
  }

  /** Decode one frame: an event to yield, or undefined (handled internally). */
  private handle(f: BackendFrame): BackendEvent | undefined {
    if (this.host.handleAsyncMessage(f)) return undefined;
    if (f.type === B.ReadyForQuery) {
      this.end(undefined, false);
      return undefined;
    }
    if (f.type === B.ErrorResponse) {
      this.pendingError ??= new ServerError(decodeErrorFields(f.type, f.body));
      this.mode = 'results';
      return undefined;
    }
    if (this.pendingError !== undefined) return undefined;
    switch (f.type) {
      case B.RowDescription:
        this.mode = 'results';
        return { kind: 'rowDescription', fields: decodeRowDescription(f.body) };
      case B.DataRow:
        return { kind: 'dataRow', values: decodeDataRow(f.body) };
      case B.CommandComplete:
        this.mode = 'results';
        return { kind: 'commandComplete', tag: decodeCommandComplete(f.body) };
      case B.EmptyQueryResponse:
        return { kind: 'emptyQuery' };
      case B.CopyOutResponse:
        this.mode = 'copy-out';
        return { kind: 'copyOutResponse', ...decodeCopyResponse(f.type, f.body) };
      case B.CopyInResponse:
        this.mode = 'copy-in';
        return { kind: 'copyInResponse', ...decodeCopyResponse(f.type, f.body) };
      case B.CopyBothResponse:
        this.mode = 'copy-both';
        return { kind: 'copyBothResponse', ...decodeCopyResponse(f.type, f.body) };
      case B.CopyData:
        return { kind: 'copyData', data: f.body };
      case B.CopyDone:
        if (this.mode === 'copy-both') this.mode = 'copy-in';
        else if (this.mode === 'copy-out') this.mode = 'results';
        return { kind: 'copyDone' };
      default:
        // libpq's pqParseInput3() text for a message it does not expect.
        throw new ProtocolError(`unexpected response from server; first received character was "${String.fromCharCode(f.type)}"`);
    }
  }

  /** Mark the iterator finished; with `broken`, the connection is torn down.  Returns the error. */
  private end(err: PgBasebackupError | undefined, broken: boolean): PgBasebackupError {
    const first = !this.done;
    this.done = true;
    if (first) this.host.queryEnded(this, broken ? err : undefined);
    return err as PgBasebackupError;
  }

  /** Read up to ReadyForQuery after an error, within ERROR_DRAIN_MS; rejects (the connection is then torn down) otherwise. */
  private drainAfterError(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProtocolError('server sent no ReadyForQuery after an error')), ERROR_DRAIN_MS);
      timer.unref();
    });
    const drain = (async () => {
      for (;;) {
        const f = await this.host.channel.read();
        if (this.host.handleAsyncMessage(f)) continue;
        if (f.type === B.ReadyForQuery) return;
      }
    })();
    return Promise.race([drain, timeout]).finally(() => clearTimeout(timer));
  }

  private async abandon(): Promise<IteratorResult<BackendEvent>> {
    if (this.done) return { done: true, value: undefined };
    if (!this.started) {
      this.end(undefined, false);
      return { done: true, value: undefined };
    }
    if (this.mode !== 'results') {
      this.end(new ProtocolError('query abandoned during COPY; connection closed'), true);
      return { done: true, value: undefined };
    }
    // Read and discard the rest of the result in the background.
    this.done = true;
    const rest = (async () => {
      for (;;) {
        const f = await this.host.channel.read();
        if (this.host.handleAsyncMessage(f)) continue;
        if (f.type === B.ReadyForQuery) return;
      }
    })();
    this.host.queryAbandoned(this, rest);
    return { done: true, value: undefined };
  }
}
