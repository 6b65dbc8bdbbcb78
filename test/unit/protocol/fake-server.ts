/**
 * A scripted in-process "PostgreSQL server" for unit tests of the connection layer: listens on a unix
 * socket (`${dir}/.s.PGSQL.${port}`) or 127.0.0.1, and runs a script per accepted connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectAttempt } from '../../../src/protocol/types.js';
import { cstr, int16, int32 } from './frames.js';

export class ClientStream {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async need(n: number): Promise<void> {
    while (this.buf.length < n) {
      if (this.closed) throw new Error('client closed');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** An untyped packet (StartupMessage, SSLRequest, CancelRequest): returns its code and the rest. */
  async readPacket(): Promise<{ code: number; body: Buffer }> {
    await this.need(4);
    const len = this.buf.readInt32BE(0);
    await this.need(len);
    const p = this.take(len);
    return { code: p.readInt32BE(4), body: p.subarray(8) };
  }

  /** A StartupMessage's parameters. */
  async readStartup(): Promise<Record<string, string>> {
    const { code, body } = await this.readPacket();
    if (code !== 196608) throw new Error(`not a startup message: ${code}`);
    const parts = body.toString('utf8').split('\0');
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) out[parts[i] as string] = parts[i + 1] as string;
    return out;
  }

  async readMessage(): Promise<{ type: string; body: Buffer }> {
    await this.need(5);
    const len = this.buf.readInt32BE(1);
    await this.need(1 + len);
    const m = this.take(1 + len);
    return { type: String.fromCharCode(m[0] as number), body: m.subarray(5) };
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  send(type: string, body: Buffer | string = Buffer.alloc(0)): boolean {
    const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(b.length + 4, 1);
    return this.socket.write(Buffer.concat([head, b]));
  }

  sendRaw(b: Buffer): void {
    this.socket.write(b);
  }

  auth(code: number, payload: Buffer = Buffer.alloc(0)): void {
    this.send('R', Buffer.concat([int32(code), payload]));
  }

  /** AuthenticationOk, a few ParameterStatus, BackendKeyData and ReadyForQuery. */
  finishStartup(params: Record<string, string> = { server_version: '16.4 (Debian 16.4-1)', integer_datetimes: 'on' }): void {
    this.auth(0);
    for (const [k, v] of Object.entries(params)) this.send('S', Buffer.concat([cstr(k), cstr(v)]));
    this.send('K', Buffer.concat([int32(4242), int32(777)]));
    this.ready();
  }

  ready(status = 'I'): void {
    this.send('Z', status);
  }

  error(fields: Record<string, string>, type = 'E'): void {
    const parts = Object.entries(fields).map(([k, v]) => Buffer.concat([Buffer.from(k, 'latin1'), cstr(v)]));
    this.send(type, Buffer.concat([...parts, Buffer.from([0])]));
  }

  rowDescription(names: string[]): void {
    const fields = names.map((n) => Buffer.concat([cstr(n), int32(0), int16(0), int32(25), int16(-1), int32(-1), int16(0)]));
    this.send('T', Buffer.concat([int16(names.length), ...fields]));
  }

  dataRow(values: (string | null)[]): void {
    const parts = values.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(v)), Buffer.from(v)])));
    this.send('D', Buffer.concat([int16(values.length), ...parts]));
  }

  commandComplete(tag: string): void {
    this.send('C', cstr(tag));
  }
}

export class FakeServer {
  private constructor(
    private readonly server: Server,
    readonly dir: string | undefined,
    readonly port: number,
    readonly connections: ClientStream[],
  ) {}

  /** Listen on a unix socket (default) or TCP 127.0.0.1, running `script` for every connection. */
  static async start(script: (c: ClientStream, index: number) => Promise<void>, opts: { tcp?: boolean } = {}): Promise<FakeServer> {
    const conns: ClientStream[] = [];
    const server = createServer((sock) => {
      const c = new ClientStream(sock);
      const index = conns.length;
      conns.push(c);
      script(c, index).catch(() => sock.destroy());
    });
    if (opts.tcp) {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const addr = server.address();
      return new FakeServer(server, undefined, typeof addr === 'object' && addr ? addr.port : 0, conns);
    }
    const dir = mkdtempSync(join(tmpdir(), 'pgbb-fake-'));
    const port = 5432;
    await new Promise<void>((r) => server.listen(join(dir, `.s.PGSQL.${port}`), () => r()));
    return new FakeServer(server, dir, port, conns);
  }

  attempt(over: Partial<ConnectAttempt> = {}): ConnectAttempt {
    const unix = this.dir !== undefined;
    return {
      host: unix ? (this.dir as string) : '127.0.0.1',
      port: this.port,
      isUnixSocket: unix,
      user: 'alice',
      database: 'replication',
      replication: 'true',
      fallbackApplicationName: 'pg_basebackup',
      sslMode: unix ? 'prefer' : 'disable',
      channelBinding: 'prefer',
      getPassword: async () => undefined,
      ...over,
    };
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
