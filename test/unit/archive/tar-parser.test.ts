import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { TarParser, TarParserStage } from '../../../src/archive/tar-parser.js';
import { encodeTarHeader, TAR_BLOCK_SIZE, tarChecksum, tarPaddingBytes, writeTarNumber } from '../../../src/archive/tar-header.js';
import type { ArchiveChunk, MemberSink, TarMember } from '../../../src/archive/streamer.js';
import { CollectingMemberSink, feedings, fixture, tarStreamEntries, tarStreamPack } from './helpers.js';

interface ParsedMember {
  member: TarMember;
  header: Buffer;
  data: Buffer;
  trailer: Buffer;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`chunk grammar violated: ${what}`);
}

/** Parse pieces with the pure parser and check the chunk grammar of astreamer.h on the way. */
function parse(pieces: Buffer[]): { members: ParsedMember[]; archiveTrailer: Buffer } {
  const p = new TarParser();
  const chunks: ArchiveChunk[] = [];
  for (const piece of pieces) for (const c of p.push(piece)) chunks.push(c);
  chunks.push(...p.end());
  const members: ParsedMember[] = [];
  let cur: { member: TarMember; header: Buffer; data: Buffer[] } | undefined;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i] as ArchiveChunk;
    switch (c.kind) {
      case 'header':
        check(cur === undefined, 'header inside a member');
        check(c.buf.length === TAR_BLOCK_SIZE, 'header of 512 bytes');
        cur = { member: c.member, header: Buffer.from(c.buf), data: [] };
        break;
      case 'data':
        check(cur?.member === c.member, 'data of the current member');
        check(c.buf.length > 0, 'no empty data chunk');
        cur?.data.push(Buffer.from(c.buf));
        break;
      case 'trailer': {
        check(cur?.member === c.member, 'trailer of the current member');
        const m = cur as NonNullable<typeof cur>;
        const data = Buffer.concat(m.data);
        check(data.length === m.member.size, 'data adds up to the size');
        check(c.buf.length === tarPaddingBytes(m.member.size), 'trailer is the padding');
        members.push({ member: m.member, header: m.header, data, trailer: Buffer.from(c.buf) });
        cur = undefined;
        break;
      }
      case 'archive-trailer':
        check(cur === undefined, 'archive trailer after a complete member');
        check(i === chunks.length - 1, 'archive trailer last');
        return { members, archiveTrailer: Buffer.from(c.buf) };
    }
  }
  throw new Error('no archive trailer');
}

/** Everything the parser reported, as one buffer (fast to compare across thousands of cuts). */
function summary(r: ReturnType<typeof parse>): Buffer {
  const parts: Buffer[] = [];
  for (const m of r.members) {
    parts.push(Buffer.from(JSON.stringify(m.member)), m.header, m.data, Buffer.from(`|${m.trailer.length}|`));
  }
  parts.push(r.archiveTrailer);
  return Buffer.concat(parts);
}

async function smallArchive(): Promise<Buffer> {
  return tarStreamPack([
    { name: 'backup_label', data: 'START WAL LOCATION: 0/2000028\n' },
    { name: 'global', type: 'directory' },
    { name: 'global/pg_control', data: Buffer.alloc(700, 7) },
    { name: 'empty', data: '' },
    { name: 'exact', data: Buffer.alloc(512, 1) },
    { name: 'pg_tblspc/16384', type: 'symlink', linkname: '/srv/ts' },
  ]);
}

describe('TarParser', () => {
  const cases: [string, () => Promise<Buffer> | Buffer][] = [
    ['a tar-stream archive', smallArchive],
    ['a GNU tar archive', () => fixture('gnu-ustar.tar')],
    ['a GNU tar archive with record padding', () => fixture('gnu-ustar-padded.tar')],
    ["an excerpt of a PostgreSQL 15 server's base.tar", () => fixture('pg15-base-excerpt.tar')],
  ];

  it.each(cases)('parses %s the same however it is cut, and like tar-stream', async (_what, make) => {
    const archive = await make();
    const reference = parse([archive]);
    const oracle = await tarStreamEntries(archive);
    expect(reference.members.map((m) => [m.member.name, m.member.size, m.member.mode, m.member.linkTarget, m.data.toString('hex')])).toEqual(
      oracle.map((e) => [e.name, e.size, e.mode, e.linkname, e.data.toString('hex')]),
    );
    expect(reference.archiveTrailer.subarray(0, 1024).equals(Buffer.alloc(1024))).toBe(true);
    const expected = summary(reference);
    for (const [how, pieces] of feedings(archive)) {
      const got = summary(parse(pieces));
      if (!got.equals(expected)) expect(got.toString('latin1'), how).toBe(expected.toString('latin1'));
    }
  });

  it('passes member data on as views of the input, without copying', () => {
    const archive = fixture('pg15-base-excerpt.tar');
    const chunks = new TarParser().push(archive);
    const data = chunks.filter((c) => c.kind === 'data');
    expect(data.length).toBeGreaterThan(0);
    for (const c of data) expect(c.buf.buffer).toBe(archive.buffer);
  });

  it('keeps a bounded archive trailer however much padding follows', () => {
    const archive = Buffer.concat([fixture('gnu-ustar.tar'), Buffer.alloc(1 << 20)]);
    const p = new TarParser();
    p.push(archive);
    const [trailer] = p.end();
    expect(trailer?.kind).toBe('archive-trailer');
    expect(trailer?.buf.length).toBe(1024);
  });

  it('accepts an archive without end-of-archive blocks (servers before 15) if it stops between members', async () => {
    const archive = await smallArchive();
    const unterminated = archive.subarray(0, archive.length - 1024);
    const r = parse([unterminated]);
    expect(r.members.length).toBe(6);
    expect(r.archiveTrailer.length).toBe(0);
  });

  it('reports "COPY stream ended before last file was finished" when cut inside a member', async () => {
    const archive = await smallArchive();
    const boundaries = new Set<number>([0]);
    let off = 0;
    for (const m of parse([archive]).members) {
      off += TAR_BLOCK_SIZE + m.member.size + tarPaddingBytes(m.member.size);
      boundaries.add(off);
    }
    let failures = 0;
    for (let cut = 1; cut < archive.length - 1024; cut++) {
      const p = new TarParser();
      p.push(archive.subarray(0, cut));
      if (boundaries.has(cut)) {
        expect(() => p.end(), `cut at ${cut}`).not.toThrow();
      } else {
        expect(() => p.end(), `cut at ${cut}`).toThrow('COPY stream ended before last file was finished');
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(archive.length - 1024 - 10);
  });

  it('reports a member with an empty name', () => {
    const h = encodeTarHeader({ name: 'x', size: 0, mode: 0o600, uid: 0, gid: 0, mtime: 0, type: 'file', linkTarget: '' });
    h.fill(0, 0, 100);
    writeTarNumber(h, 148, 8, tarChecksum(h));
    const p = new TarParser();
    expect(() => p.push(h)).toThrow(ProtocolError);
    expect(() => new TarParser().push(h)).toThrow('tar member has empty name');
  });

  it('expects the data of a member whose size is in base-256 form', () => {
    const size = 2 ** 34 + 1;
    const h = encodeTarHeader({ name: 'big', size, mode: 0o600, uid: 0, gid: 0, mtime: 0, type: 'file', linkTarget: '' });
    const p = new TarParser();
    const chunks = p.push(Buffer.concat([h, Buffer.alloc(4096, 9)]));
    expect(chunks.map((c) => c.kind)).toEqual(['header', 'data']);
    expect(chunks[0]?.member?.size).toBe(size);
    expect(chunks[1]?.buf.length).toBe(4096);
    expect(() => p.end()).toThrow('COPY stream ended before last file was finished');
  });
});

describe('TarParserStage', () => {
  it('waits for a slow member sink before parsing on', async () => {
    const archive = fixture('gnu-ustar.tar');
    const seen: ArchiveChunk[] = [];
    let release: (() => void) | undefined;
    const slow: MemberSink = {
      content(chunk) {
        seen.push(chunk);
        if (chunk.kind !== 'data') return undefined;
        return new Promise<void>((res) => {
          release = res;
        });
      },
      finish: async () => undefined,
      abort: async () => undefined,
    };
    const stage = new TarParserStage(slow);
    const w = stage.write(archive);
    expect(w).toBeInstanceOf(Promise);
    let settled = false;
    void (w as Promise<void>).then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    // Stopped right after the first data chunk.
    expect(seen.at(-1)?.kind).toBe('data');
    const before = seen.length;
    while (!settled) {
      release?.();
      await new Promise((r) => setImmediate(r));
    }
    expect(seen.length).toBeGreaterThan(before);
  });

  it('returns nothing to wait for when the sink never waits, and finishes the sink after the trailer', async () => {
    const sink = new CollectingMemberSink();
    const stage = new TarParserStage(sink);
    expect(stage.write(fixture('gnu-ustar.tar'))).toBeUndefined();
    await stage.finish();
    expect(sink.chunks.at(-1)?.kind).toBe('archive-trailer');
    expect(sink.finished).toBe(true);
  });

  it('aborts the next stage', async () => {
    const sink = new CollectingMemberSink();
    await new TarParserStage(sink).abort(new Error('x'));
    expect(sink.aborted).toBe(true);
  });
});
