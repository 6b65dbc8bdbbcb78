import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { FrameReader, type BackendFrame } from '../../../src/protocol/frame-reader.js';
import { chunkings, feed, frame } from './frames.js';

const stream = Buffer.concat([
  frame('R', Buffer.from([0, 0, 0, 0])),
  frame('S', 'server_version\x0015.18\x00'),
  frame('I'), // empty body
  frame('d', Buffer.from('copy data payload')),
  frame('c'),
  frame('Z', 'I'),
]);

/** Do two buffers share any bytes of memory? */
function overlaps(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

function summary(frames: BackendFrame[]): string[] {
  return frames.map((f) => `${String.fromCharCode(f.type)}:${f.body.toString('hex')}`);
}

describe('FrameReader', () => {
  const expected = summary(feed([stream]));

  it('decodes the expected frames from the whole stream', () => {
    expect(expected).toEqual([
      'R:00000000',
      `S:${Buffer.from('server_version\x0015.18\x00', 'latin1').toString('hex')}`,
      'I:',
      `d:${Buffer.from('copy data payload').toString('hex')}`,
      'c:',
      'Z:49',
    ]);
  });

  for (const { name, chunks } of chunkings(stream)) {
    it(`gives the same frames fed ${name}`, () => {
      expect(summary(feed(chunks))).toEqual(expected);
    });
  }

  it('hands out views of the fed chunk when a message lies inside it', () => {
    const chunk = Buffer.from(stream);
    const frames = feed([chunk]);
    const d = frames[3] as BackendFrame;
    expect(d.body.buffer).toBe(chunk.buffer);
    expect(d.body.byteOffset).toBe(chunk.byteOffset + stream.indexOf('copy data'));
  });

  it('copies a message spanning chunks into a buffer of exactly its size, not a view of either chunk', () => {
    const at = stream.indexOf('copy data') + 4;
    const a = Buffer.from(stream.subarray(0, at));
    const b = Buffer.from(stream.subarray(at));
    const frames = feed([a, b]);
    const d = frames[3] as BackendFrame;
    expect(d.body.toString()).toBe('copy data payload');
    expect(d.body.length).toBe('copy data payload'.length);
    expect(overlaps(d.body, a)).toBe(false);
    expect(overlaps(d.body, b)).toBe(false);
    // Mutating the chunks afterwards must not change the body.
    a.fill(0);
    b.fill(0);
    expect(d.body.toString()).toBe('copy data payload');
  });

  it('does not let later chunks overwrite earlier bodies', () => {
    const r = new FrameReader();
    const kept: Buffer[] = [];
    const msg = frame('d', Buffer.alloc(1000, 0x61));
    // Feed in 7-byte pieces so every body is assembled across chunks.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < msg.length; i += 7) r.push(Buffer.from(msg.subarray(i, i + 7)), (f) => kept.push(f.body));
    }
    expect(kept).toHaveLength(3);
    for (const k of kept) expect(k.equals(Buffer.alloc(1000, 0x61))).toBe(true);
    expect(overlaps(kept[0] as Buffer, kept[1] as Buffer) || overlaps(kept[1] as Buffer, kept[2] as Buffer)).toBe(false);
  });

  it('reports pending bytes of an incomplete message', () => {
    const r = new FrameReader();
    const out: BackendFrame[] = [];
    r.push(stream.subarray(0, 3), (f) => out.push(f));
    expect(r.pendingBytes).toBe(3);
    r.push(stream.subarray(3, 9), (f) => out.push(f));
    expect(out).toHaveLength(1);
    expect(r.pendingBytes).toBe(0);
    r.push(stream.subarray(9, 16), (f) => out.push(f));
    expect(r.pendingBytes).toBe(7);
  });

  it('rejects a length word below 4 with libpq\'s sync-loss text', () => {
    const bad = Buffer.from([0x44, 0, 0, 0, 3]);
    for (const { chunks } of chunkings(bad)) {
      expect(() => feed(chunks)).toThrow(ProtocolError);
    }
    expect(() => feed([bad])).toThrow('lost synchronization with server: got message type "D", length 3');
  });

  it('rejects absurd lengths', () => {
    expect(() => feed([Buffer.from([0x64, 0x7f, 0xff, 0xff, 0xff])])).toThrow(/lost synchronization/);
  });
});
