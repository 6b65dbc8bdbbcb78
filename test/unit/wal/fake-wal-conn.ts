/**
 * In-memory stand-ins for the WAL receiver's collaborators: a replication connection whose responses a
 * test scripts per command (events pushed one by one, as the server would send them), a WalWriter that
 * keeps segments in memory, and a manual clock for the status-update timer.
 */
import type { FeedbackClock } from '../../../src/wal/feedback-timer.js';
import { WalReceiver, type ReceiveXlogOptions } from '../../../src/wal/receiver.js';
import type { WalSegmentFile, WalWriter } from '../../../src/wal/wal-writer.js';
import type { PgConnection } from '../../../src/protocol/connection.js';
import type { BackendEvent } from '../../../src/protocol/types.js';

/** The server side of one command: push events, end it (ReadyForQuery) or fail it. */
export class Session {
  private queue: (BackendEvent | Error | 'end')[] = [];
  private waiter: (() => void) | undefined;
  constructor(readonly sql: string) {}

  push(...events: BackendEvent[]): void {
    this.queue.push(...events);
    this.wake();
  }
  end(): void {
    this.queue.push('end');
    this.wake();
  }
  fail(e: Error): void {
    this.queue.push(e);
    this.wake();
  }
  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  iterator(): AsyncIterableIterator<BackendEvent> {
    const next = async (): Promise<IteratorResult<BackendEvent>> => {
      while (this.queue.length === 0) await new Promise<void>((r) => (this.waiter = r));
      const item = this.queue.shift() as BackendEvent | Error | 'end';
      if (item === 'end') {
        this.queue.unshift('end');
        return { done: true, value: undefined };
      }
      if (item instanceof Error) throw item;
      return { done: false, value: item };
    };
    const it: AsyncIterableIterator<BackendEvent> = {
      next,
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }
}

export interface StatusUpdate {
  write: bigint;
  flush: bigint;
  apply: bigint;
  clock: bigint;
  replyRequested: boolean;
}

export class FakeWalConn {
  backendPid = 4242;
  serverVersionNum = 180000;
  destroyed = false;
  closed = false;
  readonly sessions: Session[] = [];
  readonly status: StatusUpdate[] = [];
  copyDoneSent = 0;
  /** Called with each new command; the test scripts the session (may be async). */
  onQuery: (s: Session) => void = () => undefined;
  /** Called when the client sends CopyDone. */
  onCopyDone: (s: Session) => void = () => undefined;

  query(sql: string): AsyncIterableIterator<BackendEvent> {
    const s = new Session(sql);
    this.sessions.push(s);
    this.onQuery(s);
    return s.iterator();
  }

  sendCopyData(buf: Buffer): boolean {
    if (buf[0] !== 0x72 || buf.length !== 34) throw new Error(`unexpected CopyData from the client: ${buf.toString('hex')}`);
    this.status.push({
      write: buf.readBigUInt64BE(1),
      flush: buf.readBigUInt64BE(9),
      apply: buf.readBigUInt64BE(17),
      clock: buf.readBigInt64BE(25),
      replyRequested: buf[33] !== 0,
    });
    return true;
  }

  sendCopyDone(): boolean {
    this.copyDoneSent++;
    const s = this.sessions.at(-1);
    if (s) this.onCopyDone(s);
    return true;
  }

  /** Like PgConnection.simpleQuery: runs the command, rejects with its error. */
  async simpleQuery(sql: string): Promise<unknown[]> {
    for await (const ev of this.query(sql)) void ev;
    return [];
  }

  /** Tear down: the running command fails as a lost connection would. */
  destroy(): void {
    this.destroyed = true;
    this.sessions.at(-1)?.fail(new Error('connection destroyed'));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  get sql(): string[] {
    return this.sessions.map((s) => s.sql);
  }

  asConnection(): PgConnection {
    return this as unknown as PgConnection;
  }
}

// ---- server messages ----

export function xlogData(dataStart: bigint, data: Buffer, walEnd = dataStart + BigInt(data.length)): BackendEvent {
  const b = Buffer.alloc(25 + data.length);
  b[0] = 0x77;
  b.writeBigUInt64BE(dataStart, 1);
  b.writeBigUInt64BE(walEnd, 9);
  b.writeBigInt64BE(0n, 17);
  data.copy(b, 25);
  return { kind: 'copyData', data: b };
}

export function keepalive(walEnd: bigint, replyRequested: boolean): BackendEvent {
  const b = Buffer.alloc(18);
  b[0] = 0x6b;
  b.writeBigUInt64BE(walEnd, 1);
  b.writeBigInt64BE(0n, 9);
  b[17] = replyRequested ? 1 : 0;
  return { kind: 'copyData', data: b };
}

export const copyBoth: BackendEvent = { kind: 'copyBothResponse', format: 0, columnFormats: [] };
export const copyDone: BackendEvent = { kind: 'copyDone' };
export const commandComplete = (tag = 'START_STREAMING'): BackendEvent => ({ kind: 'commandComplete', tag });

/** A one-row result set of text values. */
export function resultSet(names: string[], values: string[], tag = 'SELECT'): BackendEvent[] {
  return [
    {
      kind: 'rowDescription',
      fields: names.map((name) => ({ name, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 })),
    },
    { kind: 'dataRow', values: values.map((v) => Buffer.from(v)) },
    { kind: 'commandComplete', tag },
  ] as BackendEvent[];
}

/** Deterministic WAL bytes for [from, to). */
export function walBytes(from: bigint, to: bigint): Buffer {
  const b = Buffer.alloc(Number(to - from));
  for (let i = 0; i < b.length; i++) b[i] = Number((from + BigInt(i)) % 251n);
  return b;
}

// ---- writer ----

export class MemoryWalWriter implements WalWriter {
  readonly segments = new Map<string, Buffer>();
  readonly files = new Map<string, Buffer>();
  readonly done: string[] = [];
  readonly opened: string[] = [];
  openCount = 0;
  finished = false;
  aborted = false;

  constructor(private readonly walSegSize: number) {}

  async openSegment(name: string): Promise<WalSegmentFile> {
    const buf = this.segments.get(name) ?? Buffer.alloc(this.walSegSize);
    this.segments.set(name, buf);
    this.opened.push(name);
    this.openCount++;
    return {
      write: async (offset, data) => {
        if (offset + data.length > this.walSegSize) throw new Error(`write past the segment end: ${offset}+${data.length}`);
        data.copy(buf, offset);
      },
      close: async () => {
        this.openCount--;
      },
    };
  }
  async writeFile(name: string, contents: Buffer): Promise<void> {
    this.files.set(name, Buffer.from(contents));
  }
  async markDone(name: string): Promise<void> {
    this.done.push(name);
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
}

// ---- clock ----

export class ManualClock implements FeedbackClock {
  t = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  /** Move time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const first = this.timers[0];
      if (first === undefined || first.at > end) break;
      this.timers.shift();
      this.t = first.at;
      first.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.length;
  }
}

/** Let queued promise callbacks run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

// ---- receiver set-up ----

export const SEG = 1024 * 1024; // the smallest valid wal_segment_size
export const S = BigInt(SEG);

/** A receiver on segment 3 of timeline 1 over a fake connection; the server answers our CopyDone. */
export function setup(over: Partial<ReceiveXlogOptions> = {}) {
  const conn = new FakeWalConn();
  const writer = new MemoryWalWriter(SEG);
  const clock = new ManualClock();
  const receiver = new WalReceiver({
    conn: conn.asConnection(),
    writer,
    startLsn: 3n * S,
    timeline: 1,
    walSegSize: SEG,
    reportFlushPosition: false,
    statusInterval: 0,
    fetchHistory: true,
    clock,
    ...over,
  });
  // By default the server answers our CopyDone with its own and ends the command.
  conn.onCopyDone = (s) => {
    s.push(copyDone, commandComplete());
    s.end();
  };
  return { conn, writer, clock, receiver };
}

/** Start streaming: the server enters COPY BOTH for the first START_REPLICATION. */
export function streaming(conn: FakeWalConn): void {
  conn.onQuery = (s) => {
    if (s.sql.startsWith('START_REPLICATION')) s.push(copyBoth);
  };
}

export function last(conn: FakeWalConn): Session {
  const s = conn.sessions.at(-1);
  if (s === undefined) throw new Error('no command sent');
  return s;
}

export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
