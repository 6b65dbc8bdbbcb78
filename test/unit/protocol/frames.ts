/** Helpers for protocol unit tests: build backend frames and feed them in different chunkings. */
import { FrameReader, type BackendFrame } from '../../../src/protocol/frame-reader.js';

export function frame(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

export function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** Feed the chunks (copies, so views are provably of the fed chunks) and collect frames. */
export function feed(chunks: Buffer[]): BackendFrame[] {
  const r = new FrameReader();
  const out: BackendFrame[] = [];
  for (const c of chunks) r.push(c, (f) => out.push(f));
  return out;
}

/** All chunkings to test: whole, one byte at a time, and split in two at every offset. */
export function chunkings(data: Buffer): { name: string; chunks: Buffer[] }[] {
  const out: { name: string; chunks: Buffer[] }[] = [{ name: 'whole', chunks: [Buffer.from(data)] }];
  const bytes: Buffer[] = [];
  for (let i = 0; i < data.length; i++) bytes.push(Buffer.from(data.subarray(i, i + 1)));
  out.push({ name: 'byte by byte', chunks: bytes });
  for (let i = 1; i < data.length; i++) {
    out.push({ name: `split at ${i}`, chunks: [Buffer.from(data.subarray(0, i)), Buffer.from(data.subarray(i))] });
  }
  return out;
}
