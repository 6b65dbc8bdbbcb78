/**
 * One socket (plain or TLS) speaking protocol 3.0: incoming bytes are framed (frame-reader.ts) into a
 * bounded queue that a single consumer pulls with read(); outgoing messages are written as they come.
 *
 * Backpressure: when the queued messages exceed `highWaterBytes` (bodies plus a fixed per-message
 * overhead, so many tiny messages count too) the socket is paused, and it is resumed once the consumer
 * has brought the queue down to half of that.  TCP flow control then holds the server back.
 *
 * A plain socket opened with in-place reads (in-place-reads.ts) is read into one reusable buffer; the
 * frame reader copies each message out of it, so queued messages never change.
 *
 * CopyData pump (pumpCopyData): instead of read() per message, CopyData bodies go to a handler as
 * they are framed, as views of the read buffer when the socket reads in place: no copy, no promise,
 * no queue.  While the handler makes us wait, the socket is paused at once (as pg blocks in write()),
 * so that only the rest of the current read is queued (copied), not a high-water mark's worth.
 * After a small in-place read taken by a pump that keeps up, the thread waits a few microseconds so
 * that the server's next messages arrive in one read (read-coalescing.ts).
 *
 * When the socket closes, queued messages are still delivered; after them read() rejects with a
 * ConnectionError carrying libpq's text (e.g. "server closed the connection unexpectedly ...").
 */
import type { Socket } from 'node:net';
import { ConnectionError, PgBasebackupError } from '../errors.js';
import { socketFailureText } from './connect-errors.js';
import { FrameReader, type BackendFrame } from './frame-reader.js';
import { InPlaceReads } from './in-place-reads.js';
import { coalesceAfterRead } from './read-coalescing.js';
import type { CopyDataHandler } from './types.js';

const COPY_DATA = 0x64; // 'd'

interface Pump {
  onData: CopyDataHandler;
  resolve: () => void;
  reject: (e: Error) => void;
  /** The handler returned a promise that has not settled: nothing more goes to it meanwhile. */
  waiting: boolean;
}

export const DEFAULT_HIGH_WATER_BYTES = 1024 * 1024;
/** Accounted per queued message besides its body, so that floods of small messages are bounded too. */
const MESSAGE_OVERHEAD = 64;

export interface ChannelStats {
  /** How many times the socket was paused: the queue was full, or the CopyData pump's handler made us wait. */
  pauses: number;
  /** Current and maximum accounted queue size in bytes. */
  queuedBytes: number;
  maxQueuedBytes: number;
}

export interface ChannelOptions {
  highWaterBytes?: number | undefined;
  /** Bytes already read from the socket that belong to the message stream. */
  prefill?: Buffer | undefined;
  /**
   * Called after each in-place read taken while a CopyData pump runs (read-coalescing.ts's wait by
   * default; tests pass a spy).
   */
  afterPumpedRead?: ((bytes: number) => void) | undefined;
}

export class BackendChannel {
  private readonly reader = new FrameReader();
  private queue: BackendFrame[] = [];
  private head = 0;
  private waiter: { resolve: (f: BackendFrame) => void; reject: (e: Error) => void } | undefined;
  private pump: Pump | undefined;
  private readonly inPlace = (type: number, body: Buffer, transient: boolean): boolean => {
    const p = this.pump;
    if (p === undefined || p.waiting || type !== COPY_DATA || this.head < this.queue.length) return false;
    this.feedPump(p, body, transient);
    return true;
  };
  private paused = false;
  /** After end(): incoming data is dropped. */
  private discarding = false;
  private socketError: Error | undefined;
  /** Set once no more messages can arrive; read() rejects with it after the queue is empty. */
  private terminal: Error | undefined;
  private closedPromise: Promise<void>;
  readonly stats: ChannelStats = { pauses: 0, queuedBytes: 0, maxQueuedBytes: 0 };
  private readonly highWater: number;
  private readonly afterPumpedRead: (bytes: number) => void;

  constructor(
    readonly socket: Socket,
    options: ChannelOptions = {},
  ) {
    this.highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
    this.afterPumpedRead = options.afterPumpedRead ?? coalesceAfterRead;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => {
      this.socketError ??= err;
    });
    socket.on('close', () => this.finish(new ConnectionError(socketFailureText(this.socketError), { cause: this.socketError })));
    if (socket.destroyed) this.finish(new ConnectionError(socketFailureText(this.socketError)));
    if (options.prefill !== undefined && options.prefill.length > 0) this.onData(options.prefill);
    if (!InPlaceReads.take(socket, (chunk) => this.onData(chunk, true))) socket.on('data', (chunk: Buffer) => this.onData(chunk));
    if (socket.isPaused()) socket.resume();
  }

  /** True once the socket is gone (queued messages may still be readable). */
  get closed(): boolean {
    return this.terminal !== undefined;
  }

  /** Messages waiting to be read. */
  get queuedMessages(): number {
    return this.queue.length - this.head;
  }

  /** The next message; rejects when the connection is gone and nothing is queued. */
  read(): Promise<BackendFrame> {
    const f = this.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.terminal !== undefined) return Promise.reject(this.terminal);
    if (this.waiter !== undefined || this.pump !== undefined) return Promise.reject(new PgBasebackupError('PGBB_INTERNAL', 'concurrent read on a connection'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /**
   * Hand CopyData bodies to `onData` until another message is next (it stays queued for read()):
   * first the queued ones, then each as it is framed.  A body framed in place from the reused read
   * buffer is passed as a view with `transient` true: `onData` must copy what it keeps.  Rejects when
   * the connection is gone and nothing is queued, or with what `onData` throws or rejects with.
   */
  pumpCopyData(onData: CopyDataHandler): Promise<void> {
    if (this.waiter !== undefined || this.pump !== undefined) return Promise.reject(new PgBasebackupError('PGBB_INTERNAL', 'concurrent read on a connection'));
    return new Promise((resolve, reject) => {
      this.pump = { onData, resolve, reject, waiting: false };
      this.drainPump();
    });
  }

  /** Feed queued messages to the pump while it does not wait; settle it at another message or at the end. */
  private drainPump(): void {
    const p = this.pump;
    while (p !== undefined && this.pump === p && !p.waiting) {
      if (this.head >= this.queue.length) {
        if (this.terminal !== undefined) this.endPump(p, this.terminal);
        return;
      }
      if ((this.queue[this.head] as BackendFrame).type !== COPY_DATA) {
        this.endPump(p);
        return;
      }
      this.feedPump(p, (this.shift() as BackendFrame).body, false);
    }
  }

  private feedPump(p: Pump, body: Buffer, transient: boolean): void {
    let r: void | Promise<void>;
    try {
      r = p.onData(body, transient);
    } catch (e) {
      this.endPump(p, e as Error);
      return;
    }
    if (r === undefined) return;
    p.waiting = true;
    this.pauseSocket();
    r.then(
      () => {
        p.waiting = false;
        this.drainPump();
        this.resumeIfDrained();
      },
      (e: unknown) => {
        this.endPump(p, e as Error);
        this.resumeIfDrained();
      },
    );
  }

  private endPump(p: Pump, err?: Error): void {
    if (this.pump !== p) return;
    this.pump = undefined;
    if (err === undefined) p.resolve();
    else p.reject(err);
  }

  /** Write one message (or several concatenated); ignored once the socket is gone (reads report why). */
  write(buf: Buffer): void {
    if (this.terminal !== undefined || this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(buf);
  }

  /** Resolves when the socket's write buffer has drained (or the socket is gone). */
  flush(): Promise<void> {
    if (this.terminal !== undefined || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Half-close politely and wait for the socket to close (destroying it after `timeoutMs`). */
  async end(timeoutMs = 5000): Promise<void> {
    this.finish(new ConnectionError('connection to server was closed'));
    if (!this.socket.destroyed) {
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
      timer.unref();
      // Keep reading (and dropping) so the peer's close is noticed even if the consumer stopped.
      this.discarding = true;
      this.socket.resume();
      await this.closedPromise;
      clearTimeout(timer);
    }
  }

  /** Tear the socket down at once; pending and later reads reject with `err` (or a generic error). */
  destroy(err?: Error): void {
    this.finish(err ?? new ConnectionError('connection to server was closed'));
    this.socket.destroy();
  }

  /** `transient`: the chunk is the reusable read buffer (the reader copies what it hands out). */
  private onData(chunk: Buffer, transient = false): boolean {
    if (this.terminal !== undefined || this.discarding) return true;
    try {
      this.reader.push(chunk, (f) => this.enqueue(f), transient, this.pump === undefined ? undefined : this.inPlace);
    } catch (e) {
      this.destroy(e as Error);
    }
    // A bulk COPY stream that is keeping up: let the next messages gather before reading again.
    const p = this.pump;
    if (transient && p !== undefined && !p.waiting && !this.paused && this.terminal === undefined) this.afterPumpedRead(chunk.length);
    return true;
  }

  private enqueue(f: BackendFrame): void {
    if (this.waiter !== undefined && this.queuedMessages === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(f);
      return;
    }
    this.queue.push(f);
    const s = this.stats;
    s.queuedBytes += f.body.length + MESSAGE_OVERHEAD;
    if (s.queuedBytes > s.maxQueuedBytes) s.maxQueuedBytes = s.queuedBytes;
    // A pump takes it now (a body assembled across reads), or ends at it (another message).
    if (this.pump !== undefined && !this.pump.waiting) this.drainPump();
    if (s.queuedBytes > this.highWater) this.pauseSocket();
  }

  private pauseSocket(): void {
    if (this.paused) return;
    this.paused = true;
    this.stats.pauses++;
    this.socket.pause();
  }

  /** Resume a paused socket once the queue is down to half the high-water mark (and no pump waits). */
  private resumeIfDrained(): void {
    if (!this.paused || this.stats.queuedBytes > this.highWater / 2 || this.pump?.waiting === true) return;
    this.paused = false;
    if (this.terminal === undefined) this.socket.resume();
  }

  private shift(): BackendFrame | undefined {
    if (this.head >= this.queue.length) return undefined;
    const f = this.queue[this.head] as BackendFrame;
    this.queue[this.head] = undefined as unknown as BackendFrame;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.stats.queuedBytes -= f.body.length + MESSAGE_OVERHEAD;
    this.resumeIfDrained();
    return f;
  }

  private finish(err: Error): void {
    if (this.terminal !== undefined) return;
    this.terminal = err;
    if (this.pump !== undefined && !this.pump.waiting) this.drainPump();
    const w = this.waiter;
    if (w !== undefined && this.queuedMessages === 0) {
      this.waiter = undefined;
      w.reject(err);
    }
  }
}
