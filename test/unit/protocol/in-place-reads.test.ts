/**
 * The reused read buffer (in-place-reads.ts) must never show through: every message body handed out
 * stays as it was received, however long it is kept and however many reads overwrite the buffer;
 * and where a consumer takes bodies in place (the CopyData pump), it gets exactly the bytes sent, in
 * order, as views only while it is called.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendChannel } from '../../../src/protocol/backend-channel.js';
import { BODY_AHEAD_LIMIT, FrameReader, IN_PLACE_BODY_LIMIT, type BackendFrame } from '../../../src/protocol/frame-reader.js';
import { InPlaceReads } from '../../../src/protocol/in-place-reads.js';
import { COALESCE_BELOW_BYTES, COALESCE_MICROS, coalesceWaitMicros } from '../../../src/protocol/read-coalescing.js';
import { frame } from './frames.js';

/** A CopyData body of `len` bytes whose content depends on `seed` throughout. */
function body(seed: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

describe('FrameReader with transient chunks', () => {
  const sizes = [0, 1, 5, 100, 4000, 9000, 70_000, BODY_AHEAD_LIMIT + 10];
  const bodies = sizes.map((n, i) => body(i + 1, n));
  const stream = Buffer.concat(bodies.map((b) => frame('d', b)));

  for (const piece of [7, 4096, 65536, stream.length]) {
    it(`keeps every body intact when the chunk (${piece} bytes at a time) is overwritten after each push`, () => {
      const reader = new FrameReader();
      const reused = Buffer.alloc(piece);
      const got: BackendFrame[] = [];
      for (let at = 0; at < stream.length; at += piece) {
        const n = stream.copy(reused, 0, at, Math.min(at + piece, stream.length));
        reader.push(reused.subarray(0, n), (f) => got.push(f), true);
        reused.fill(0xee); // the next read overwrites the buffer
      }
      expect(got.map((f) => f.body.length)).toEqual(sizes);
      got.forEach((f, i) => expect(f.body.equals(bodies[i] as Buffer)).toBe(true));
      for (const f of got) if (f.body.length > 0) expect(f.body.buffer).not.toBe(reused.buffer);
    });
  }
});

describe('BackendChannel on a socket read into a reused buffer', () => {
  let dir: string;
  let server: Server;
  const path = () => join(dir, 'sock');
  const bodies = Array.from({ length: 300 }, (_, i) => body(i, [3, 500, 4097, 20_000, 33_000][i % 5] as number));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgbb-inplace-'));
    server = createServer((s: Socket) => {
      s.end(Buffer.concat(bodies.map((b) => frame('d', b))));
    });
    await new Promise<void>((resolve) => server.listen(path(), resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands out bodies that stay intact while later reads reuse the buffer (with pauses)', async () => {
    // A small read buffer: many reads, messages spanning reads, each read overwriting the last.
    const reads = new InPlaceReads(1000);
    const socket = connect({ path: path(), onread: reads.onread });
    reads.bind(socket);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const channel = new BackendChannel(socket, { highWaterBytes: 64 * 1024 });
    const kept: BackendFrame[] = [];
    for (let i = 0; i < bodies.length; i++) {
      kept.push(await channel.read());
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 2)); // let the socket run ahead, and pause
    }
    expect(channel.stats.pauses).toBeGreaterThan(0);
    expect(kept.map((f) => String.fromCharCode(f.type)).join('')).toBe('d'.repeat(bodies.length));
    kept.forEach((f, i) => {
      expect(f.body.length).toBe((bodies[i] as Buffer).length);
      expect(f.body.equals(bodies[i] as Buffer)).toBe(true);
      expect(f.body.buffer).not.toBe(reads.onread.buffer.buffer);
    });
    await expect(channel.read()).rejects.toThrow();
  });

  it('gives ordinary data events (copies) to listeners before a channel takes the reads', async () => {
    const reads = new InPlaceReads(1000);
    const socket = connect({ path: path(), onread: reads.onread });
    reads.bind(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.buffer).not.toBe(reads.onread.buffer.buffer);
    expect(Buffer.concat(chunks).equals(Buffer.concat(bodies.map((b) => frame('d', b))))).toBe(true);
  });
});

describe('FrameReader offering bodies in place', () => {
  const sizes = [1, 5, 100, 4000, 32_773, 70_000, IN_PLACE_BODY_LIMIT, IN_PLACE_BODY_LIMIT + 1, BODY_AHEAD_LIMIT + 10];
  const bodies = sizes.map((n, i) => body(i + 7, n));
  const stream = Buffer.concat(bodies.map((b) => frame('d', b)));

  for (const piece of [7, 4096, 65536, stream.length]) {
    it(`passes views that hold the body while called, copies what is declined or too long (${piece} bytes at a time)`, () => {
      const reader = new FrameReader();
      const reused = Buffer.alloc(piece);
      const got: { body: Buffer; inPlace: boolean; view: Buffer }[] = [];
      let declined = 0;
      for (let at = 0; at < stream.length; at += piece) {
        const n = stream.copy(reused, 0, at, Math.min(at + piece, stream.length));
        reader.push(
          reused.subarray(0, n),
          (f) => got.push({ body: f.body, inPlace: false, view: f.body }),
          true,
          (type, view, transient) => {
            expect(type).toBe(0x64);
            expect(transient).toBe(true);
            // Every third one is declined: it must then be emitted as a copy.
            if (++declined % 3 === 0) return false;
            got.push({ body: Buffer.from(view), inPlace: true, view });
            return true;
          },
        );
        reused.fill(0xee);
      }
      expect(got.map((g) => g.body.length)).toEqual(sizes);
      got.forEach((g, i) => expect(g.body.equals(bodies[i] as Buffer)).toBe(true));
      // Bodies longer than IN_PLACE_BODY_LIMIT that span chunks are never offered in place.
      if (piece < IN_PLACE_BODY_LIMIT) expect(got.slice(-2).every((g) => !g.inPlace)).toBe(true);
      expect(got.some((g) => g.inPlace)).toBe(true);
      // What was emitted is owned: not the reused chunk, not the reader's assembly buffer.
      for (const g of got.filter((x) => !x.inPlace)) expect(g.view.buffer).not.toBe(reused.buffer);
    });
  }
});

describe('BackendChannel CopyData pump', () => {
  let dir: string;
  let server: Server;
  const path = () => join(dir, 'sock');
  const bodies = Array.from({ length: 400 }, (_, i) => body(i, [3, 500, 4097, 20_000, 32_773][i % 5] as number));
  const copyDone = frame('c');
  const commandComplete = frame('C', 'COPY 0\0');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgbb-pump-'));
    server = createServer((s: Socket) => {
      s.on('error', () => undefined); // clients below hang up early on purpose
      s.end(Buffer.concat([...bodies.map((b) => frame('d', b)), copyDone, commandComplete]));
    });
    await new Promise<void>((resolve) => server.listen(path(), resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const open = async (
    readBytes: number,
    highWaterBytes = 64 * 1024,
    afterPumpedRead?: (bytes: number) => void,
  ): Promise<{ channel: BackendChannel; reads: InPlaceReads }> => {
    const reads = new InPlaceReads(readBytes);
    const socket = connect({ path: path(), onread: reads.onread });
    reads.bind(socket);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { channel: new BackendChannel(socket, { highWaterBytes, afterPumpedRead }), reads };
  };

  it('asks for the coalescing wait after each read a pump takes, never while its handler makes it wait, nor outside a pump', async () => {
    const seen: { bytes: number; handlerWaiting: boolean; pumping: boolean }[] = [];
    let handlerWaiting = false;
    let pumping = false;
    const { channel } = await open(4096, 64 * 1024, (bytes) => seen.push({ bytes, handlerWaiting, pumping }));
    expect(String.fromCharCode((await channel.read()).type)).toBe('d'); // read() before the pump
    const before = seen.length;
    pumping = true;
    let n = 1;
    await channel.pumpCopyData((data) => {
      expect(data.equals(bodies[n++] as Buffer)).toBe(true);
      if (n % 25 !== 0) return undefined;
      handlerWaiting = true;
      return new Promise<void>((r) =>
        setTimeout(() => {
          handlerWaiting = false;
          r();
        }, 3),
      );
    });
    pumping = false;
    expect(n).toBe(bodies.length);
    expect(before).toBe(0);
    expect(seen.length).toBeGreaterThan(10);
    for (const s of seen) {
      expect(s.pumping).toBe(true);
      expect(s.handlerWaiting).toBe(false);
      expect(s.bytes).toBeGreaterThan(0);
      expect(s.bytes).toBeLessThanOrEqual(4096);
    }
    expect(String.fromCharCode((await channel.read()).type)).toBe('c');
    await channel.end();
  });

  for (const readBytes of [1000, 128 * 1024]) {
    it(`delivers every body in order, in place where it can, waiting when told to (reads of ${readBytes} bytes)`, async () => {
      const { channel, reads } = await open(readBytes);
      const kept: Buffer[] = [];
      let transient = 0;
      let waits = 0;
      const memory = new Set<ArrayBufferLike>();
      await channel.pumpCopyData((data, isTransient) => {
        if (isTransient) {
          transient++;
          memory.add(data.buffer);
          kept.push(Buffer.from(data));
        } else {
          kept.push(data);
        }
        if (kept.length % 37 === 0) {
          waits++;
          return new Promise((r) => setTimeout(r, 3));
        }
        return undefined;
      });
      // Views of the reused read buffer, or of the reader's one assembly buffer: nothing allocated per body.
      expect(memory.has(reads.onread.buffer.buffer)).toBe(true);
      expect(memory.size).toBeLessThanOrEqual(2);
      expect(waits).toBeGreaterThan(5);
      expect(transient).toBeGreaterThan(bodies.length / 2);
      expect(kept.length).toBe(bodies.length);
      kept.forEach((b, i) => expect(b.equals(bodies[i] as Buffer)).toBe(true));
      // The pump stopped at CopyDone, which read() returns, then CommandComplete.
      expect(String.fromCharCode((await channel.read()).type)).toBe('c');
      expect(String.fromCharCode((await channel.read()).type)).toBe('C');
      await expect(channel.read()).rejects.toThrow();
    });
  }

  it('pauses the socket as soon as the handler makes it wait: only the rest of one read is queued, not a high-water mark', async () => {
    const { channel } = await open(1000, 1024 * 1024);
    const kept: Buffer[] = [];
    await channel.pumpCopyData((data) => {
      kept.push(Buffer.from(data));
      return kept.length % 10 === 0 ? new Promise((r) => setTimeout(r, 5)) : undefined;
    });
    expect(kept.length).toBe(bodies.length);
    kept.forEach((b, i) => expect(b.equals(bodies[i] as Buffer)).toBe(true));
    expect(channel.stats.pauses).toBeGreaterThanOrEqual(bodies.length / 10 - 1);
    // At most the largest body (assembled across reads) and the rest of one 1000-byte read; reading on
    // while the handler waits would have queued hundreds of kB (the whole stream is 3.4 MB).
    const largest = Math.max(...bodies.map((b) => b.length));
    expect(channel.stats.maxQueuedBytes).toBeLessThanOrEqual(largest + 1000 + 64 * 200);
    expect(String.fromCharCode((await channel.read()).type)).toBe('c');
    await channel.end();
  });

  it('fails a kept view: the test above would notice a consumer that does not copy', async () => {
    const { channel } = await open(1000);
    const kept: Buffer[] = [];
    await channel.pumpCopyData((data) => {
      kept.push(data); // wrong on purpose: views kept past the call
    });
    const intact = kept.filter((b, i) => b.equals(bodies[i] as Buffer)).length;
    expect(intact).toBeLessThan(bodies.length);
    await channel.end();
  });

  it('rejects with the handler\'s error and leaves the rest unread', async () => {
    const { channel } = await open(4096);
    let n = 0;
    const boom = new Error('disk full');
    await expect(
      channel.pumpCopyData(() => {
        if (++n === 10) throw boom;
      }),
    ).rejects.toBe(boom);
    expect(n).toBe(10);
    expect(String.fromCharCode((await channel.read()).type)).toBe('d');
    channel.destroy();
  });

  it('rejects once the connection is gone and every queued body was delivered', async () => {
    const cut = createServer((s: Socket) => {
      s.on('error', () => undefined);
      s.end(Buffer.concat(bodies.slice(0, 50).map((b) => frame('d', b))));
    });
    const cutPath = join(dir, 'cut');
    await new Promise<void>((resolve) => cut.listen(cutPath, resolve));
    const reads = new InPlaceReads(1000);
    const socket = connect({ path: cutPath, onread: reads.onread });
    reads.bind(socket);
    const channel = new BackendChannel(socket);
    const kept: Buffer[] = [];
    await expect(channel.pumpCopyData((data) => void kept.push(Buffer.from(data)))).rejects.toThrow(/server closed the connection unexpectedly/);
    expect(kept.length).toBe(50);
    kept.forEach((b, i) => expect(b.equals(bodies[i] as Buffer)).toBe(true));
    await new Promise<void>((resolve) => cut.close(() => resolve()));
  });
});

describe('read coalescing', () => {
  it('waits after a small read only: a full read means the server is ahead, and an empty one means nothing', () => {
    expect(coalesceWaitMicros(0)).toBe(0);
    expect(coalesceWaitMicros(1)).toBe(COALESCE_MICROS);
    expect(coalesceWaitMicros(28_000)).toBe(COALESCE_MICROS);
    expect(coalesceWaitMicros(COALESCE_BELOW_BYTES - 1)).toBe(COALESCE_MICROS);
    expect(coalesceWaitMicros(COALESCE_BELOW_BYTES)).toBe(0);
    expect(coalesceWaitMicros(128 * 1024)).toBe(0);
    expect(COALESCE_MICROS).toBeGreaterThan(0);
    expect(COALESCE_MICROS).toBeLessThan(100); // far below what fills the server's socket buffer
  });
});
