import { describe, expect, it } from 'vitest';
import { TarArchiver } from '../../../src/archive/tar-archiver.js';
import { TarParserStage } from '../../../src/archive/tar-parser.js';
import { TarTerminator } from '../../../src/archive/tar-terminator.js';
import { decodeTarHeader, encodeTarHeader, tarPaddingBytes } from '../../../src/archive/tar-header.js';
import type { ArchiveChunk, MemberSink } from '../../../src/archive/streamer.js';
import { CollectingByteSink, feed, feedings, fixture, tarStreamEntries, tarStreamPack } from './helpers.js';

const NOW = 1_726_000_000;

/** An editing stage that regenerates every header (as an injector does after a change). */
class DropHeaders implements MemberSink {
  constructor(private readonly next: MemberSink) {}
  content(chunk: ArchiveChunk): void | Promise<void> {
    if (chunk.kind === 'header') return this.next.content({ ...chunk, buf: Buffer.alloc(0) });
    return this.next.content(chunk);
  }
  finish(): Promise<void> {
    return this.next.finish();
  }
  abort(): Promise<void> {
    return this.next.abort();
  }
}

async function roundTrip(pieces: Buffer[], edit?: (m: MemberSink) => MemberSink): Promise<Buffer> {
  const out = new CollectingByteSink();
  const archiver = new TarArchiver(out, { now: () => NOW });
  await feed(new TarParserStage(edit ? edit(archiver) : archiver), pieces);
  expect(out.finished).toBe(true);
  return out.bytes;
}

describe('TarArchiver after TarParser', () => {
  it.each(['pg15-base-excerpt.tar', 'gnu-ustar.tar'])('reproduces %s byte for byte however it is fed', async (name) => {
    const archive = fixture(name);
    for (const [how, pieces] of feedings(archive, false)) {
      const out = await roundTrip(pieces);
      expect(out.equals(archive), how).toBe(true);
    }
    // every split offset of the smaller one
    if (name === 'gnu-ustar.tar') {
      for (let i = 1; i < archive.length; i++) {
        const out = await roundTrip([archive.subarray(0, i), archive.subarray(i)]);
        if (!out.equals(archive)) expect.fail(`split at ${i}`);
      }
    }
  });

  it('ends the archive with exactly two zero blocks, dropping record padding', async () => {
    const padded = fixture('gnu-ustar-padded.tar');
    const exact = fixture('gnu-ustar.tar');
    const out = await roundTrip([padded]);
    expect(out.length).toBe(exact.length);
    expect(out.equals(exact)).toBe(true);
  });

  it('adds the end-of-archive blocks to an unterminated archive', async () => {
    const archive = await tarStreamPack([{ name: 'a', data: 'x' }]);
    const out = await roundTrip([archive.subarray(0, archive.length - 1024)]);
    expect(out.equals(archive)).toBe(true);
  });

  it('regenerates empty headers and their padding from the member', async () => {
    const archive = fixture('pg15-base-excerpt.tar');
    const out = await roundTrip([archive], (a) => new DropHeaders(a));
    expect(out.length).toBe(archive.length);
    const theirs = await tarStreamEntries(archive);
    const ours = await tarStreamEntries(out);
    expect(ours.map((e) => [e.name, e.size, e.mode, e.uid, e.gid, e.data.toString('hex')])).toEqual(
      theirs.map((e) => [e.name, e.size, e.mode, e.uid, e.gid, e.data.toString('hex')]),
    );
    expect(ours.every((e) => e.mtime === NOW)).toBe(true);
  });

  it('injects a member before the archive trailer, with pg_file_create_mode and uid/gid 04000/02000', async () => {
    const out = new CollectingByteSink();
    const archiver = new TarArchiver(out, { now: () => NOW });
    const parser = new TarParserStage({
      content: (c) => (c.kind === 'archive-trailer' ? archiver.injectFile('backup_manifest', Buffer.from('{"x":1}\n'), 0o600).then(() => archiver.content(c)) : archiver.content(c)),
      finish: () => archiver.finish(),
      abort: () => archiver.abort(),
    });
    const source = fixture('gnu-ustar.tar');
    await feed(parser, [source]);
    const entries = await tarStreamEntries(out.bytes);
    const last = entries.at(-1);
    expect(last).toMatchObject({ name: 'backup_manifest', size: 8, mode: 0o600, uid: 0o4000, gid: 0o2000, mtime: NOW, type: 'file' });
    expect(last?.data.toString()).toBe('{"x":1}\n');
    // everything before it is the original archive, byte for byte
    expect(out.bytes.subarray(0, source.length - 1024).equals(source.subarray(0, source.length - 1024))).toBe(true);
    expect(out.bytes.length).toBe(source.length + 512 + 512);
  });

  it('refuses to inject after the archive trailer', async () => {
    const archiver = new TarArchiver(new CollectingByteSink());
    await archiver.content({ kind: 'archive-trailer', buf: Buffer.alloc(0) });
    await expect(archiver.injectFile('x', Buffer.alloc(1), 0o600)).rejects.toThrow(/after the archive trailer/);
  });

  it('passes its writer\'s backpressure back to the caller', async () => {
    const out = new CollectingByteSink(true);
    const archiver = new TarArchiver(out);
    const header = encodeTarHeader(decodeTarHeader(fixture('gnu-ustar.tar').subarray(0, 512)));
    const member = decodeTarHeader(header);
    const r = archiver.content({ kind: 'header', member, buf: header });
    expect(r).toBeInstanceOf(Promise);
    let done = false;
    void (r as Promise<void>).then(() => {
      done = true;
    });
    await new Promise((res) => setTimeout(res, 5));
    expect(done).toBe(false);
    out.release();
    await r;
    expect(done).toBe(true);
  });
});

describe('TarTerminator', () => {
  it('passes bytes through and appends two zero blocks', async () => {
    const out = new CollectingByteSink();
    const t = new TarTerminator(out);
    const body = Buffer.concat([encodeTarHeader({ name: 'f', size: 3, mode: 0o600, uid: 0, gid: 0, mtime: 0, type: 'file', linkTarget: '' }), Buffer.from('abc'), Buffer.alloc(tarPaddingBytes(3))]);
    await feed(t, [body.subarray(0, 100), body.subarray(100)]);
    expect(out.bytes.equals(Buffer.concat([body, Buffer.alloc(1024)]))).toBe(true);
    expect(out.finished).toBe(true);
    expect((await tarStreamEntries(out.bytes)).map((e) => e.data.toString())).toEqual(['abc']);
  });
});
