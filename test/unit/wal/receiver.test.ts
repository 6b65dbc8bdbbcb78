/**
 * WalReceiver against a scripted replication connection (1): status updates (keepalive replies, the
 * periodic timer, flush only with a slot), receivelog.c's checks of XLogData, and segment splitting
 * with done marks.  receiver-end.test.ts covers how streams end.
 */
import { describe, expect, it } from 'vitest';
import { keepalive, last, rejection, S, SEG, settle, setup, streaming, walBytes, xlogData } from './fake-wal-conn.js';

describe('status updates', () => {
  it('answers a keepalive that asks for a reply at once, with the write position; none otherwise', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    await settle();
    const s = last(conn);
    expect(s.sql).toBe('START_REPLICATION 0/300000 TIMELINE 1');
    s.push(xlogData(3n * S, walBytes(3n * S, 3n * S + 1000n)));
    s.push(keepalive(3n * S + 5000n, false));
    await settle();
    expect(conn.status).toEqual([]);
    s.push(keepalive(3n * S + 5000n, true));
    await settle();
    expect(conn.status).toHaveLength(1);
    expect(conn.status[0]).toMatchObject({ write: 3n * S + 1000n, flush: 0n, apply: 0n, replyRequested: false });
    receiver.stop(3n * S + 1000n);
    await run;
  });

  it('reports the flush position only with a slot: the start, then what was written when asked', async () => {
    const { conn, receiver } = setup({ slot: 'pg_basebackup_42', reportFlushPosition: true });
    streaming(conn);
    const run = receiver.run();
    await settle();
    const s = last(conn);
    expect(s.sql).toBe('START_REPLICATION SLOT "pg_basebackup_42" 0/300000 TIMELINE 1');
    s.push(keepalive(3n * S, true));
    await settle();
    expect(conn.status[0]).toMatchObject({ write: 3n * S, flush: 3n * S });
    s.push(xlogData(3n * S, walBytes(3n * S, 3n * S + 700n)), keepalive(3n * S + 700n, true));
    await settle();
    expect(conn.status[1]).toMatchObject({ write: 3n * S + 700n, flush: 3n * S + 700n });
    receiver.stop(3n * S + 700n);
    await run;
  });

  it('sends one update when COPY starts, then every -s seconds counted from the last one sent', async () => {
    const { conn, clock, receiver } = setup({ statusInterval: 1 });
    streaming(conn);
    const run = receiver.run();
    await settle();
    expect(conn.status).toHaveLength(1); // at once, as pg's first loop turn does
    clock.advance(999);
    expect(conn.status).toHaveLength(1);
    clock.advance(1);
    expect(conn.status).toHaveLength(2);
    clock.advance(500);
    last(conn).push(keepalive(3n * S, true)); // a requested reply resets the interval
    await settle();
    expect(conn.status).toHaveLength(3);
    clock.advance(999);
    expect(conn.status).toHaveLength(3);
    clock.advance(1);
    expect(conn.status).toHaveLength(4);
    expect(conn.status[3]?.clock).toBeGreaterThan(conn.status[0]?.clock ?? 0n);
    // Updates carry the clock in microseconds since 2000-01-01.
    expect(conn.status[0]?.clock).toBe(BigInt(1_700_000_000_000 - 946_684_800_000) * 1000n);
    receiver.stop(3n * S);
    await run;
    clock.advance(10_000);
    expect(conn.status).toHaveLength(4); // nothing after our CopyDone
    expect(clock.pending).toBe(0);
  });

  it('keeps sending while the writer is stuck on a slow file', async () => {
    const { conn, clock, writer, receiver } = setup({ statusInterval: 1 });
    let release: () => void = () => undefined;
    const open = writer.openSegment.bind(writer);
    writer.openSegment = async (name) => {
      const seg = await open(name);
      return { ...seg, write: (o, d) => new Promise<void>((r) => (release = () => void seg.write(o, d).then(r))) };
    };
    streaming(conn);
    const run = receiver.run();
    await settle();
    last(conn).push(xlogData(3n * S, walBytes(3n * S, 3n * S + 100n)));
    await settle();
    clock.advance(3000);
    expect(conn.status.length).toBe(4);
    release();
    receiver.stop(3n * S + 100n);
    await run;
  });
});

describe('XLogData checks (receivelog.c texts)', () => {
  it('refuses data that does not start a segment when no file is open', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    await settle();
    last(conn).push(xlogData(3n * S + 100n, Buffer.alloc(10)));
    expect((await rejection(run)).message).toBe('received write-ahead log record for offset 100 with no file open');
  });

  it('refuses a gap or an overlap inside the open segment', async () => {
    for (const [at, text] of [
      [0x300n, 'got WAL data offset 00000300, expected 00000200'],
      [0x100n, 'got WAL data offset 00000100, expected 00000200'],
    ] as const) {
      const { conn, receiver } = setup();
      streaming(conn);
      const run = receiver.run();
      await settle();
      last(conn).push(xlogData(3n * S, Buffer.alloc(0x200)), xlogData(3n * S + at, Buffer.alloc(16)));
      expect((await rejection(run)).message).toBe(text);
    }
  });

  it('refuses an unknown message type and a short header', async () => {
    for (const [data, text] of [
      [Buffer.from('x'), 'unrecognized streaming header: "x"'],
      [Buffer.from([0x77, 1, 2]), 'streaming header too small: 3'],
    ] as const) {
      const { conn, receiver } = setup();
      streaming(conn);
      const run = receiver.run();
      await settle();
      last(conn).push({ kind: 'copyData', data });
      expect((await rejection(run)).message).toBe(text);
    }
  });
});

describe('segments', () => {
  it('splits data at segment boundaries, marks complete segments done, pre-sized incomplete ones not', async () => {
    const { conn, writer, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    await settle();
    const s = last(conn);
    // One message across the 3/4 boundary, then more of segment 4.
    s.push(xlogData(3n * S, walBytes(3n * S, 4n * S + 5000n)));
    s.push(xlogData(4n * S + 5000n, walBytes(4n * S + 5000n, 4n * S + 9000n)));
    await settle();
    expect(writer.opened).toEqual(['000000010000000000000003', '000000010000000000000004']);
    expect(writer.done).toEqual(['000000010000000000000003']);
    receiver.stop(4n * S + 9000n);
    await run;
    expect(writer.done).toEqual(['000000010000000000000003']);
    expect(writer.segments.get('000000010000000000000003')?.equals(walBytes(3n * S, 4n * S))).toBe(true);
    const seg4 = writer.segments.get('000000010000000000000004') as Buffer;
    expect(seg4.length).toBe(SEG);
    expect(seg4.subarray(0, 9000).equals(walBytes(4n * S, 4n * S + 9000n))).toBe(true);
    expect(seg4.subarray(9000).every((b) => b === 0)).toBe(true);
    expect(writer.openCount).toBe(0);
    expect(receiver.position).toBe(4n * S + 9000n);
  });

  it('at a segment end that reaches the stop point, ignores the rest of the message and stops', async () => {
    const { conn, writer, receiver } = setup();
    streaming(conn);
    receiver.stop(4n * S);
    const run = receiver.run();
    await settle();
    last(conn).push(xlogData(3n * S, walBytes(3n * S, 4n * S + 300n)));
    await run;
    expect(conn.copyDoneSent).toBe(1);
    expect(writer.opened).toEqual(['000000010000000000000003']);
    expect(writer.done).toEqual(['000000010000000000000003']);
  });
});
