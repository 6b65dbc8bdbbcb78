/**
 * Issue 10, finding 3 and frames that lie: an ErrorResponse is reported at once, with or without the
 * ReadyForQuery after it; libpq's length limits.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProtocolError, ServerError } from '../../../src/errors.js';
import { FrameReader, type BackendFrame } from '../../../src/protocol/frame-reader.js';
import { PgConnection } from '../../../src/protocol/connection.js';
import { ERROR_DRAIN_MS } from '../../../src/protocol/query-iterator.js';
import { FakeServer, type ClientStream } from './fake-server.js';
import { frame } from './frames.js';

let servers: FakeServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function serve(onQuery: (c: ClientStream, sql: string) => Promise<void> | void): Promise<FakeServer> {
  const s = await FakeServer.start(async (c: ClientStream) => {
    await c.readStartup();
    c.finishStartup();
    for (;;) {
      const m = await c.readMessage();
      if (m.type === 'X') return;
      if (m.type === 'Q') await onQuery(c, m.body.subarray(0, -1).toString());
    }
  });
  servers.push(s);
  return s;
}

describe('an ErrorResponse is reported at once (finding 3)', () => {
  it('without ReadyForQuery, the connection left open: the query fails at once; the next one fails instead of waiting forever', async () => {
    const s = await serve((c, sql) => {
      if (sql === 'first') c.error({ S: 'ERROR', V: 'ERROR', C: 'XX000', M: 'boom' }); // and nothing more
    });
    const conn = await PgConnection.open(s.attempt());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const err = await conn.simpleQuery('first').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as Error).message).toBe('ERROR:  boom');
    expect(conn.broken).toBe(false);
    // The rest of the response is waited for in the background, for ERROR_DRAIN_MS at most.
    let settled = false;
    const second = conn.simpleQuery('second').catch((e: unknown) => e).finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // still waiting for the first query's ReadyForQuery
    await vi.advanceTimersByTimeAsync(ERROR_DRAIN_MS);
    expect(await second).toBeInstanceOf(Error);
    expect(conn.broken).toBe(true);
    conn.destroy();
  });

  it('with ReadyForQuery: the query fails at once and the connection stays usable', async () => {
    const s = await serve((c, sql) => {
      if (sql === 'bad') {
        c.error({ S: 'ERROR', V: 'ERROR', C: '42601', M: 'syntax error' });
        c.ready();
      } else {
        c.rowDescription(['x']);
        c.dataRow(['1']);
        c.commandComplete('SELECT 1');
        c.ready();
      }
    });
    const conn = await PgConnection.open(s.attempt());
    await expect(conn.simpleQuery('bad')).rejects.toThrow('ERROR:  syntax error');
    const rs = await conn.simpleQuery('good');
    expect(rs[0]?.rows).toEqual([['1']]);
    await conn.close();
  });

  it('a FATAL breaks the connection at once', async () => {
    const s = await serve((c) => {
      c.error({ S: 'FATAL', V: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' });
    });
    const conn = await PgConnection.open(s.attempt());
    await expect(conn.simpleQuery('x')).rejects.toThrow('FATAL:  terminating connection due to administrator command');
    expect(conn.broken).toBe(true);
  });
});

describe('frames that lie', () => {
  const push = (bytes: Buffer) => {
    const out: BackendFrame[] = [];
    new FrameReader().push(bytes, (f) => out.push(f));
    return out;
  };

  it("libpq's 30000-byte limit for messages other than T, D, d, V, E, N, A", () => {
    const head = (type: string, len: number) => {
      const b = Buffer.alloc(5);
      b.write(type, 0, 'latin1');
      b.writeInt32BE(len, 1);
      return b;
    };
    expect(() => push(head('S', 30001))).toThrow(ProtocolError);
    expect(() => push(head('S', 30001))).toThrow('lost synchronization with server: got message type "S", length 30001');
    expect(() => push(head('Z', 1 << 20))).toThrow('lost synchronization');
    for (const t of ['T', 'D', 'd', 'V', 'E', 'N', 'A']) expect(push(head(t, 1 << 20))).toEqual([]);
  });

  it('an announced length is not allocated ahead: only the bytes that arrive are kept', () => {
    const r = new FrameReader();
    const h = Buffer.alloc(5);
    h.write('d', 0, 'latin1');
    h.writeInt32BE(0x3ffffff0, 1);
    const before = process.memoryUsage().arrayBuffers;
    r.push(Buffer.concat([h, Buffer.alloc(10)]), () => undefined);
    expect(r.pendingBytes).toBe(15);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('a message split across chunks is still whole, in a new buffer', () => {
    const f = frame('d', Buffer.from('hello world'));
    const out: BackendFrame[] = [];
    const r = new FrameReader();
    for (let i = 0; i < f.length; i += 3) r.push(Buffer.from(f.subarray(i, i + 3)), (x) => out.push(x));
    expect(out.map((x) => x.body.toString())).toEqual(['hello world']);
  });
});
