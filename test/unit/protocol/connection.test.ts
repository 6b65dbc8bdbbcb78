import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, ProtocolError, ServerError } from '../../../src/errors.js';
import { isConnectFailure } from '../../../src/protocol/connect-errors.js';
import { PgConnection } from '../../../src/protocol/connection.js';
import type { BackendEvent, NoticeFields } from '../../../src/protocol/types.js';
import { FakeServer, type ClientStream } from './fake-server.js';
import { int32 } from './frames.js';

let servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function serve(script: (c: ClientStream, i: number) => Promise<void>, opts: { tcp?: boolean } = {}): Promise<FakeServer> {
  const s = await FakeServer.start(script, opts);
  servers.push(s);
  return s;
}

/** Startup then answer queries with `onQuery`. */
function trustServer(onQuery: (c: ClientStream, sql: string) => Promise<void> | void, params?: Record<string, string>) {
  return async (c: ClientStream) => {
    await c.readStartup();
    c.finishStartup(params);
    for (;;) {
      const m = await c.readMessage();
      if (m.type === 'X') return;
      if (m.type === 'Q') await onQuery(c, m.body.subarray(0, -1).toString());
    }
  };
}

async function collect(it: AsyncIterable<BackendEvent>): Promise<BackendEvent[]> {
  const out: BackendEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

describe('PgConnection startup', () => {
  it('sends libpq-ordered startup parameters and exposes the session state', async () => {
    let startup: Record<string, string> = {};
    const s = await serve(async (c) => {
      startup = await c.readStartup();
      c.auth(0);
      c.send('N', Buffer.concat([Buffer.from('SWARNING\0CXX000\0Mhello\0'), Buffer.from([0])]));
      c.send('S', 'server_version\x0015.18\x00');
      c.send('K', Buffer.concat([int32(4242), int32(777)]));
      c.ready();
      await c.waitClosed();
    });
    const notices: NoticeFields[] = [];
    const conn = await PgConnection.open(s.attempt({ options: '-c work_mem=64kB', extraStartupParams: { datestyle: 'ISO' } }), {
      onNotice: (n) => notices.push(n),
    });
    expect(Object.entries(startup)).toEqual([
      ['user', 'alice'],
      ['database', 'replication'],
      ['replication', 'true'],
      ['options', '-c work_mem=64kB'],
      ['application_name', 'pg_basebackup'],
      ['datestyle', 'ISO'],
    ]);
    expect(conn.serverVersion).toBe('15.18');
    expect(conn.serverVersionNum).toBe(150018);
    expect(conn.backendPid).toBe(4242);
    expect(conn.secretKey.readInt32BE(0)).toBe(777);
    expect(conn.tls).toBe(false);
    expect(conn.address).toBe(`${s.dir}/.s.PGSQL.5432`);
    expect(conn.passwordUsed).toBe(false);
    expect(notices.map((n) => n.message)).toEqual(['hello']);
    await conn.close();
    await conn.close(); // idempotent
  });

  it('application_name wins over fallback_application_name; an empty one sends nothing', async () => {
    const seen: Record<string, string>[] = [];
    const s = await serve(async (c) => {
      seen.push(await c.readStartup());
      c.finishStartup();
      await c.waitClosed();
    });
    (await PgConnection.open(s.attempt({ applicationName: 'mine' }))).destroy();
    (await PgConnection.open(s.attempt({ applicationName: '' }))).destroy();
    expect(seen[0]?.application_name).toBe('mine');
    expect(seen[1] && 'application_name' in seen[1]).toBe(false);
  });

  it('reports a missing socket with libpq\'s text', async () => {
    const attempt = { ...(await serve(async () => undefined)).attempt(), host: '/nonexistent-dir' };
    const err = await PgConnection.open(attempt).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toBe(
      'connection to server on socket "/nonexistent-dir/.s.PGSQL.5432" failed: No such file or directory\n' +
        '\tIs the server running locally and accepting connections on that socket?',
    );
    expect(isConnectFailure(err) && err.beforeServerResponse).toBe(true);
  });

  it('reports a refused TCP port with libpq\'s text', async () => {
    const s = await serve(async () => undefined, { tcp: true });
    const port = s.port;
    await s.stop();
    servers = [];
    const err = await PgConnection.open(s.attempt({ port })).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `connection to server at "127.0.0.1", port ${port} failed: Connection refused\n` +
        '\tIs the server running on that host and accepting TCP/IP connections?',
    );
  });

  it('shows the address when the host name differs from it; hostaddr is shown instead of host', async () => {
    const s = await serve(async () => undefined, { tcp: true });
    const port = s.port;
    await s.stop();
    servers = [];
    const viaHostaddr = await PgConnection.open(s.attempt({ port, host: 'db.example', hostaddr: '127.0.0.1' })).catch((e: Error) => e);
    expect((viaHostaddr as Error).message).toMatch(new RegExp(`^connection to server at "127\\.0\\.0\\.1", port ${port} failed: Connection refused\\n`));
    const viaName = await PgConnection.open(s.attempt({ port, host: 'localhost' })).catch((e: Error) => e);
    expect((viaName as Error).message).toMatch(/^connection to server at "localhost" \((127\.0\.0\.1|::1)\), port \d+ failed: /);
  });

  it('reports an unknown host name like getaddrinfo', async () => {
    const s = await serve(async () => undefined, { tcp: true });
    const err = await PgConnection.open(s.attempt({ host: 'no-such-host.invalid' })).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^could not translate host name "no-such-host\.invalid" to address: /);
  });

  it('server ErrorResponse during startup: "FATAL:  ..." with the SQLSTATE', async () => {
    const s = await serve(async (c) => {
      await c.readStartup();
      c.error({ S: 'FATAL', V: 'FATAL', C: '28000', M: 'no pg_hba.conf entry for host "[local]"', D: 'some detail' });
      c.socket.end();
    });
    const err = await PgConnection.open(s.attempt()).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `connection to server on socket "${s.dir}/.s.PGSQL.5432" failed: FATAL:  no pg_hba.conf entry for host "[local]"\nDETAIL:  some detail`,
    );
    expect(isConnectFailure(err) && err.sqlState).toBe('28000');
    expect(isConnectFailure(err) && err.beforeServerResponse).toBe(false);
  });

  it('no password: "fe_sendauth: no password supplied" with passwordNeeded', async () => {
    const s = await serve(async (c) => {
      await c.readStartup();
      c.auth(3);
      await c.waitClosed();
    });
    const err = await PgConnection.open(s.attempt()).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`connection to server on socket "${s.dir}/.s.PGSQL.5432" failed: fe_sendauth: no password supplied`);
    expect(isConnectFailure(err) && err.passwordNeeded).toBe(true);
  });

  it('md5: sends md5(md5(password+user)+salt) and asks getPassword once', async () => {
    let received = '';
    const s = await serve(async (c) => {
      await c.readStartup();
      c.auth(5, Buffer.from([9, 8, 7, 6]));
      const m = await c.readMessage();
      received = m.body.subarray(0, -1).toString();
      c.finishStartup();
      await c.waitClosed();
    });
    let calls = 0;
    const conn = await PgConnection.open(s.attempt({ getPassword: async () => (calls++, 'secret') }));
    const inner = createHash('md5').update('secretalice').digest('hex');
    expect(received).toBe(`md5${createHash('md5').update(inner).update(Buffer.from([9, 8, 7, 6])).digest('hex')}`);
    expect(calls).toBe(1);
    expect(conn.passwordUsed).toBe(true);
    conn.destroy();
  });

  it('channel_binding=require refuses password authentication without TLS', async () => {
    const s = await serve(async (c) => {
      await c.readStartup();
      c.auth(5, Buffer.from([1, 2, 3, 4]));
      await c.waitClosed();
    });
    const err = await PgConnection.open(s.attempt({ channelBinding: 'require', getPassword: async () => 'x' })).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/failed: channel binding required but not supported by server's authentication request$/);
    const s2 = await serve(async (c) => {
      await c.readStartup();
      c.auth(10, Buffer.from('SCRAM-SHA-256\0\0'));
      await c.waitClosed();
    });
    const err2 = await PgConnection.open(s2.attempt({ channelBinding: 'require', getPassword: async () => 'x' })).catch((e: Error) => e);
    expect((err2 as Error).message).toMatch(/failed: channel binding required, but SSL not in use$/);
  });

  it('connect_timeout 1 waits 2 s and reports "timeout expired"', async () => {
    const s = await serve(async (c) => {
      await c.readStartup();
      await c.waitClosed(); // never answers
    });
    const t0 = Date.now();
    const err = await PgConnection.open(s.attempt({ connectTimeout: 1 })).catch((e: Error) => e);
    const elapsed = Date.now() - t0;
    expect((err as Error).message).toBe(`connection to server on socket "${s.dir}/.s.PGSQL.5432" failed: timeout expired`);
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(5000);
  });

  it('an AbortSignal ends the attempt with PGBB_ABORTED', async () => {
    const s = await serve(async (c) => {
      await c.readStartup();
      await c.waitClosed();
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await PgConnection.open(s.attempt(), { signal: ac.signal }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('PGBB_ABORTED');
  });
});

describe('PgConnection queries', () => {
  it('yields events in order; simpleQuery collects result sets', async () => {
    const s = await serve(
      trustServer((c, sql) => {
        if (sql === 'IDENTIFY_SYSTEM') {
          c.rowDescription(['systemid', 'timeline', 'xlogpos', 'dbname']);
          c.dataRow(['7000000000000000001', '1', '0/1000028', null]);
          c.commandComplete('IDENTIFY_SYSTEM');
        } else {
          c.send('I');
        }
        c.ready();
      }),
    );
    const conn = await PgConnection.open(s.attempt());
    const events = await collect(conn.query('IDENTIFY_SYSTEM'));
    expect(events.map((e) => e.kind)).toEqual(['rowDescription', 'dataRow', 'commandComplete']);
    const sets = await conn.simpleQuery('IDENTIFY_SYSTEM');
    expect(sets).toHaveLength(1);
    expect(sets[0]?.rows).toEqual([['7000000000000000001', '1', '0/1000028', null]]);
    expect(sets[0]?.fields.map((f) => f.name)).toEqual(['systemid', 'timeline', 'xlogpos', 'dbname']);
    expect(sets[0]?.commandTag).toBe('IDENTIFY_SYSTEM');
    expect((await collect(conn.query(''))).map((e) => e.kind)).toEqual(['emptyQuery']);
    await conn.close();
  });

  it('an ErrorResponse throws ServerError after ReadyForQuery; the connection stays usable', async () => {
    const s = await serve(
      trustServer((c, sql) => {
        if (sql === 'bad') c.error({ S: 'ERROR', C: '42601', M: 'syntax error at or near "bad"' });
        else c.commandComplete('OK');
        c.ready();
      }),
    );
    const conn = await PgConnection.open(s.attempt());
    const err = await conn.simpleQuery('bad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).message).toBe('ERROR:  syntax error at or near "bad"');
    expect((err as ServerError).sqlState).toBe('42601');
    expect(conn.broken).toBe(false);
    expect((await conn.simpleQuery('good'))[0]?.commandTag).toBe('OK');
    await conn.close();
  });

  it('only one query at a time', async () => {
    const s = await serve(trustServer((c) => (c.commandComplete('OK'), c.ready())));
    const conn = await PgConnection.open(s.attempt());
    const it = conn.query('a');
    expect(() => conn.query('b')).toThrow('another command is already in progress');
    await collect(it);
    await collect(conn.query('b'));
    conn.destroy();
  });

  it('the server dying mid-query gives libpq\'s text and breaks the connection', async () => {
    const s = await serve(
      trustServer((c) => {
        c.send('H', Buffer.from([0, 0, 0]));
        c.send('d', 'partial');
        c.socket.destroy();
      }),
    );
    const conn = await PgConnection.open(s.attempt());
    const events: BackendEvent[] = [];
    const err = await (async () => {
      for await (const ev of conn.query('COPY')) events.push(ev);
    })().catch((e: unknown) => e);
    expect(events.map((e) => e.kind)).toEqual(['copyOutResponse', 'copyData']);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toBe(
      'server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.',
    );
    expect(conn.broken).toBe(true);
    expect(() => conn.query('x')).toThrow('no connection to the server');
  });

  it('a FATAL error followed by the server closing throws the ServerError at once', async () => {
    const s = await serve(
      trustServer((c) => {
        c.error({ S: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' });
        c.socket.end();
      }),
    );
    const conn = await PgConnection.open(s.attempt());
    const err = await conn.simpleQuery('SELECT 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as Error).message).toBe('FATAL:  terminating connection due to administrator command');
    expect(conn.broken).toBe(true);
  });

  it('an unknown message type is a ProtocolError that breaks the connection', async () => {
    const s = await serve(trustServer((c) => void c.send('?', 'x')));
    const conn = await PgConnection.open(s.attempt());
    const err = await conn.simpleQuery('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toBe('unexpected response from server; first received character was "?"');
    expect(conn.broken).toBe(true);
  });

  it('stopping early outside COPY drains the rest; the next query works', async () => {
    const s = await serve(
      trustServer((c, sql) => {
        c.rowDescription(['n']);
        for (let i = 0; i < 1000; i++) c.dataRow([`${sql}-${i}`]);
        c.commandComplete('SELECT 1000');
        c.ready();
      }),
    );
    const conn = await PgConnection.open(s.attempt());
    for await (const ev of conn.query('first')) if (ev.kind === 'dataRow') break;
    const sets = await conn.simpleQuery('second');
    expect(sets[0]?.rows).toHaveLength(1000);
    expect(sets[0]?.rows[0]).toEqual(['second-0']);
    await conn.close();
  });

  it('stopping early inside COPY destroys the connection', async () => {
    const s = await serve(
      trustServer((c) => {
        c.send('H', Buffer.from([0, 0, 0]));
        for (let i = 0; i < 10; i++) c.send('d', 'row\n');
      }),
    );
    const conn = await PgConnection.open(s.attempt());
    for await (const ev of conn.query('COPY')) if (ev.kind === 'copyData') break;
    expect(conn.broken).toBe(true);
    await s.connections[0]?.waitClosed();
  });

  it('CopyBoth: sendCopyData/sendCopyDone while iterating; copyData buffers are kept intact', async () => {
    const got: string[] = [];
    const s = await serve(
      trustServer(async (c) => {
        c.send('W', Buffer.from([0, 0, 0]));
        c.send('d', 'from-server-1');
        for (;;) {
          const m = await c.readMessage();
          if (m.type === 'd') got.push(m.body.toString());
          if (m.type === 'c') break;
        }
        c.send('d', 'from-server-2');
        c.send('c');
        c.commandComplete('COPY 0');
        c.ready();
      }),
    );
    const conn = await PgConnection.open(s.attempt());
    const kept: Buffer[] = [];
    const kinds: string[] = [];
    for await (const ev of conn.query('START_REPLICATION')) {
      kinds.push(ev.kind);
      if (ev.kind === 'copyBothResponse') {
        expect(conn.sendCopyData(Buffer.from('status-1'))).toBe(true);
        expect(conn.sendCopyData(Buffer.from('status-2'))).toBe(true);
        expect(conn.sendCopyDone()).toBe(true);
        await conn.flush();
      }
      if (ev.kind === 'copyData') kept.push(ev.data);
    }
    expect(got).toEqual(['status-1', 'status-2']);
    expect(kinds).toEqual(['copyBothResponse', 'copyData', 'copyData', 'copyDone', 'commandComplete']);
    expect(kept.map(String)).toEqual(['from-server-1', 'from-server-2']);
    expect(conn.sendCopyData(Buffer.from('late'))).toBe(false);
    await conn.close();
  });

  it('keeps the receive queue bounded when the consumer is slow (socket paused)', async () => {
    const payload = Buffer.alloc(8000, 0x78);
    const s = await serve(
      trustServer(async (c) => {
        c.send('H', Buffer.from([0, 0, 0]));
        for (let i = 0; i < 2000; i++) {
          if (!c.send('d', payload)) await new Promise((r) => c.socket.once('drain', r));
        }
        c.send('c');
        c.commandComplete('COPY 2000');
        c.ready();
      }),
    );
    const conn = await PgConnection.open(s.attempt(), { highWaterBytes: 256 * 1024 });
    let bytes = 0;
    let n = 0;
    for await (const ev of conn.query('COPY')) {
      if (ev.kind !== 'copyData') continue;
      bytes += ev.data.length;
      if (++n % 100 === 0) await new Promise((r) => setTimeout(r, 5)); // a slow consumer
    }
    expect(bytes).toBe(2000 * 8000);
    expect(conn.stats.pauses).toBeGreaterThan(0);
    // Bound: the high-water mark plus at most one socket read's worth of messages.
    expect(conn.stats.maxQueuedBytes).toBeLessThan(256 * 1024 + 256 * 1024);
    await conn.close();
  });

  it('cancel() sends CancelRequest with the backend key over a new connection', async () => {
    let cancel: { code: number; body: Buffer } | undefined;
    const s = await serve(async (c, i) => {
      if (i === 1) {
        cancel = await c.readPacket();
        c.socket.end();
        return;
      }
      await c.readStartup();
      c.finishStartup();
      await c.waitClosed();
    });
    const conn = await PgConnection.open(s.attempt());
    await conn.cancel();
    expect(cancel?.code).toBe(80877102);
    expect(cancel?.body.readInt32BE(0)).toBe(4242);
    expect(cancel?.body.subarray(4)).toEqual(int32(777));
    conn.destroy();
  });

  it('close() sends Terminate', async () => {
    let last = '';
    const s = await serve(async (c) => {
      await c.readStartup();
      c.finishStartup();
      last = (await c.readMessage()).type;
      c.socket.end();
    });
    const conn = await PgConnection.open(s.attempt());
    await conn.close();
    expect(last).toBe('X');
    expect(conn.broken).toBe(true);
  });
});
