import { beforeEach, describe, expect, it } from 'vitest';
import { LiveVerifier } from '../../../src/backup/live-verify/live-verifier.js';
import { MemberDigests, type MemberDigest } from '../../../src/backup/live-verify/member-digests.js';
import { StreamedWalSource } from '../../../src/backup/live-verify/streamed-wal-source.js';
import { checksumOf } from '../../../src/manifest/checksum.js';
import { manifestChecksumOf } from '../../../src/manifest/parse.js';
import { MemberTee } from '../../../src/archive/member-tee.js';
import type { ArchiveChunk, MemberSink } from '../../../src/archive/streamer.js';
import { TarParserStage } from '../../../src/archive/tar-parser.js';
import { CollectingByteSink, feed, tarStreamPack } from '../archive/helpers.js';

/** The rest of a chain after its tar parser: counts what it is given. */
class CountingMemberSink implements MemberSink {
  bytes = 0;
  content(chunk: ArchiveChunk): void {
    if (chunk.kind === 'data') this.bytes += chunk.buf.length;
  }
  async finish(): Promise<void> {}
  async abort(): Promise<void> {}
}

const FILES: Record<string, string> = { PG_VERSION: '18\n', 'base/1/1259': 'x'.repeat(8192), 'global/pg_control': 'c'.repeat(512) };

function manifestFor(files: Record<string, string>, algorithm = 'CRC32C'): Buffer {
  const lines = Object.entries(files).map(([p, d]) => {
    const sum = algorithm === 'NONE' ? '' : `, "Checksum-Algorithm": "${algorithm}", "Checksum": "${checksumOf(algorithm as 'CRC32C', Buffer.from(d))}"`;
    return `{ "Path": "${p}", "Size": ${Buffer.byteLength(d)}, "Last-Modified": "2026-12-04 10:00:00 GMT"${sum} }`;
  });
  const body = `{ "PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": 1,\n"Files": [\n${lines.join(',\n')}\n],\n"WAL-Ranges": [\n{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }\n],\n`;
  return Buffer.from(`${body}"Manifest-Checksum": "${manifestChecksumOf(body)}"}\n`);
}

let viaChainParser = false;

async function run(archive: Record<string, string>, manifest: Buffer, extra: { name: string; data: string }[] = []) {
  const v = new LiveVerifier({ algorithm: 'CRC32C', walSegSize: 16 * 1024 * 1024, timeline: 1, startLsn: 0x2000028n, serverMajor: 18, checkWal: false });
  const tar = await tarStreamPack([...Object.entries(archive).map(([name, data]) => ({ name, data })), ...extra]);
  const pieces: Buffer[] = [];
  for (let i = 0; i < tar.length; i += 777) pieces.push(tar.subarray(i, i + 777));
  if (viaChainParser) {
    // A chain that parses the archive (plain, -R): the members come from its parser, through a MemberTee.
    const rest = new CountingMemberSink();
    await feed(new TarParserStage(new MemberTee(v.membersOf('base.tar', undefined), rest)), pieces);
    expect(rest.bytes).toBe([...Object.values(archive), ...extra.map((e) => e.data)].reduce((n, d) => n + Buffer.byteLength(d), 0));
  } else {
    // Tar written as received: a parsing branch beside the chain, which gets every byte unchanged.
    const main = new CollectingByteSink();
    await feed(v.tapArchive('base.tar', v.membersOf('base.tar', undefined), main), pieces);
    expect(main.bytes.equals(tar)).toBe(true);
  }
  await feed(v.tapManifest(undefined), [manifest]);
  return v.finish(0x2000100n);
}

for (const chainParses of [false, true]) {
  describe(`LiveVerifier (files, ${chainParses ? "members from the chain's parser" : 'a parsing branch beside the chain'})`, () => {
    beforeEach(() => {
      viaChainParser = chainParses;
    });
    it('an intact archive: no problems; pg_wal/ members are not expected in the manifest', async () => {
      expect(await run(FILES, manifestFor(FILES), [{ name: 'pg_wal/archive_status/x.done', data: '' }])).toEqual([]);
    });
    it('a changed byte: checksum mismatch, naming the file and the archive', async () => {
      expect(await run({ ...FILES, 'base/1/1259': `y${'x'.repeat(8191)}` }, manifestFor(FILES))).toEqual([
        'checksum mismatch for file "base/1/1259" in archive "base.tar"',
      ]);
    });
    it('a missing, an extra and a short file', async () => {
      const { PG_VERSION: _gone, ...rest } = FILES;
      expect(await run({ ...rest, 'global/pg_control': 'c'.repeat(500), extra: 'e' }, manifestFor(FILES))).toEqual([
        'file "PG_VERSION" is present in the manifest but not in archive "base.tar"',
        'file "global/pg_control" has size 500 in archive "base.tar" but size 512 in the manifest',
        'file "extra" is present in archive "base.tar" but not in the manifest',
      ]);
    });
    it('a damaged manifest is reported with pg\'s text', async () => {
      const m = manifestFor(FILES);
      m[m.length - 5] ^= 1;
      const problems = await run(FILES, m);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^(manifest checksum mismatch|invalid manifest checksum: ".*")$/);
    });
  });
}

describe('StreamedWalSource', () => {
  const seg = 16 * 1024 * 1024;
  it('a read waits for its bytes; after end() the rest is zeros', async () => {
    const s = new StreamedWalSource({ walSegSize: seg, timeline: 1 });
    const f = await s.open('000000010000000000000002');
    expect(f).toBeDefined();
    const pending = f!.read(100, 50);
    let done = false;
    void pending.then(() => (done = true));
    s.push(2n * BigInt(seg), Buffer.alloc(120, 1));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    s.push(2n * BigInt(seg) + 120n, Buffer.alloc(10, 2));
    s.end();
    const got = await pending;
    expect(got.subarray(0, 20).every((b) => b === 1)).toBe(true);
    expect(got.subarray(20, 30).every((b) => b === 2)).toBe(true);
    expect(got.subarray(30).every((b) => b === 0)).toBe(true);
  });
  it('another timeline\'s segment is not there; a push far ahead of the reader waits for it', async () => {
    const s = new StreamedWalSource({ walSegSize: seg, timeline: 1, maxAhead: 1000 });
    expect(await s.open('000000020000000000000002')).toBeUndefined();
    const f = await s.open('000000010000000000000000');
    const first = s.push(0n, Buffer.alloc(800));
    expect(first).toBeUndefined();
    const second = s.push(800n, Buffer.alloc(800));
    expect(second).toBeInstanceOf(Promise);
    let released = false;
    void (second as Promise<void>).then(() => (released = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(released).toBe(false);
    await f!.read(0, 1200);
    await new Promise((r) => setTimeout(r, 0));
    expect(released).toBe(true);
  });
});

describe('--verify takes the chain\'s buffers in place', () => {
  it('fed from one reused buffer, overwritten after every write: digests right, WAL segment bytes intact', async () => {
    const seg = 16 * 1024 * 1024;
    const wal = new StreamedWalSource({ walSegSize: seg, timeline: 1 });
    const walBytes = Buffer.alloc(50_000);
    for (let i = 0; i < walBytes.length; i++) walBytes[i] = (i * 7 + 3) & 0xff;
    const digests = new Map<string, MemberDigest>();
    const members = new MemberDigests({
      archive: 'base.tar',
      prefix: '',
      algorithm: 'CRC32C',
      digests,
      walData: (segment, offset, data) => wal.push(BigInt(`0x${segment.slice(16)}`) * BigInt(seg) + BigInt(offset), data),
    });
    expect(members.inPlace).toBe(true);
    const parser = new TarParserStage(members);
    expect(parser.inPlace).toBe(true);
    const tar = await tarStreamPack([
      { name: 'base/1/1259', data: FILES['base/1/1259'] as string },
      { name: 'pg_wal/000000010000000000000002', data: walBytes },
      { name: 'global/pg_control', data: FILES['global/pg_control'] as string },
    ]);
    const scratch = Buffer.alloc(1000);
    for (let i = 0; i < tar.length; i += scratch.length) {
      const n = Math.min(scratch.length, tar.length - i);
      tar.copy(scratch, 0, i, i + n);
      const r = parser.write(scratch.subarray(0, n));
      scratch.fill(0xee); // reused by the caller once write() has returned
      if (r !== undefined) await r;
    }
    await parser.finish();
    wal.end();
    expect(digests.get('base/1/1259')?.checksum).toBe(checksumOf('CRC32C', Buffer.from(FILES['base/1/1259'] as string)));
    expect(digests.get('global/pg_control')?.checksum).toBe(checksumOf('CRC32C', Buffer.from(FILES['global/pg_control'] as string)));
    const f = await wal.open('000000010000000000000002');
    const got = await f!.read(0, walBytes.length);
    expect(got.equals(walBytes)).toBe(true);
  });
});
