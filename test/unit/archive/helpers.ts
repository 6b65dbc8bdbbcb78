/** Helpers for the archive tests: feeding patterns, collecting sinks, tar-stream as an oracle. */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tarStream from 'tar-stream';
import type { ArchiveChunk, ByteSink, MemberSink } from '../../../src/archive/streamer.js';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'tar');

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

/** Ways of cutting a buffer into consecutive pieces: whole, byte by byte, and split at every offset. */
export function* feedings(buf: Buffer, everyOffset = true): Generator<[string, Buffer[]]> {
  yield ['whole', [buf]];
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  yield ['byte by byte', bytes];
  if (everyOffset) {
    for (let i = 1; i < buf.length; i++) yield [`split at ${i}`, [buf.subarray(0, i), buf.subarray(i)]];
  }
}

/** Records every chunk it receives, copying buffers so that later mutation would show. */
export class CollectingMemberSink implements MemberSink {
  chunks: ArchiveChunk[] = [];
  finished = false;
  aborted = false;
  content(chunk: ArchiveChunk): void {
    this.chunks.push({ ...chunk, buf: Buffer.from(chunk.buf) } as ArchiveChunk);
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
}

/** Collects bytes; optionally every write pends until `release()` is called. */
export class CollectingByteSink implements ByteSink {
  pieces: Buffer[] = [];
  finished = false;
  aborted = false;
  writes = 0;
  private waiting: (() => void)[] = [];
  constructor(private readonly slow = false) {}
  write(buf: Buffer): void | Promise<void> {
    this.writes++;
    this.pieces.push(Buffer.from(buf));
    if (!this.slow) return undefined;
    return new Promise((res) => this.waiting.push(res));
  }
  release(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r();
  }
  get pendingWrites(): number {
    return this.waiting.length;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.pieces);
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
}

/** Feed pieces to a ByteSink, awaiting as the driver does, then finish it. */
export async function feed(sink: ByteSink, pieces: Buffer[]): Promise<void> {
  for (const p of pieces) {
    const r = sink.write(p);
    if (r !== undefined) await r;
  }
  await sink.finish();
}

export interface OracleEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string;
  data: Buffer;
}

/** Parse an archive with tar-stream. */
export async function tarStreamEntries(archive: Buffer): Promise<OracleEntry[]> {
  const extract = tarStream.extract();
  const out: OracleEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const pieces: Buffer[] = [];
      for await (const piece of entry) pieces.push(piece as Buffer);
      const h = entry.header;
      out.push({
        name: h.name,
        type: h.type,
        size: h.size,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: Math.floor(h.mtime.getTime() / 1000),
        linkname: h.linkname ?? '',
        data: Buffer.concat(pieces),
      });
    }
  })();
  extract.end(archive);
  await done;
  return out;
}

export interface PackEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  data?: Buffer | string;
  mode?: number;
  linkname?: string;
  mtime?: number;
}

/** Make an archive with tar-stream. */
export async function tarStreamPack(entries: PackEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const pieces: Buffer[] = [];
  const collected = (async () => {
    for await (const piece of pack) pieces.push(piece as Buffer);
  })();
  for (const e of entries) {
    const isFile = (e.type ?? 'file') === 'file';
    const data = e.data !== undefined ? Buffer.from(e.data) : isFile ? Buffer.alloc(0) : undefined;
    await new Promise<void>((res, rej) => {
      const header = {
        name: e.name,
        type: e.type ?? 'file',
        mode: e.mode ?? (e.type === 'directory' ? 0o700 : 0o600),
        mtime: new Date((e.mtime ?? 1700000000) * 1000),
        uid: 1000,
        gid: 1000,
        uname: 'postgres',
        gname: 'postgres',
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      };
      if (data !== undefined) pack.entry(header, data, (err) => (err ? rej(err) : res()));
      else pack.entry(header, (err) => (err ? rej(err) : res()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(pieces);
}

/** Half text, half pseudo-random bytes: compresses, but not to nothing (the compression tests' input). */
export function sample(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = i % 89 < 50 ? 97 + ((i >> 4) % 26) : x >>> 24;
  }
  return b;
}
