/**
 * The reused read buffer (in-place-reads.ts) must never show through: every message body handed out
 * stays as it was received, however long it is kept and however many reads overwrite the buffer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendChannel } from '../../../src/protocol/backend-channel.js';
import { BODY_AHEAD_LIMIT, FrameReader, type BackendFrame } from '../../../src/protocol/frame-reader.js';
import { InPlaceReads } from '../../../src/protocol/in-place-reads.js';
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
