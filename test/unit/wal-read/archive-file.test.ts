import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ArchiveChunk, MemberSink } from '../../../src/archive/streamer.js';
import { encodeTarHeader } from '../../../src/archive/tar-header.js';
import { pumpArchiveFile, READ_CHUNK_SIZE } from '../../../src/wal/read/archive-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pgbb-archive-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Keeps the data chunks it is given as they are (views), or as copies when it says inPlace. */
class KeepingSink implements MemberSink {
  readonly kept: Buffer[] = [];
  constructor(readonly inPlace: boolean) {}
  content(chunk: ArchiveChunk): void {
    if (chunk.kind === 'data') this.kept.push(this.inPlace ? Buffer.from(chunk.buf) : chunk.buf);
  }
  async finish(): Promise<void> {}
  async abort(): Promise<void> {}
}

describe('pumpArchiveFile reads into a reused buffer only for a chain that takes it in place', () => {
  const data = Buffer.alloc(3 * READ_CHUNK_SIZE + 1234);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 9)) & 0xff;
  const path = join(dir, 'base.tar');
  writeFileSync(
    path,
    Buffer.concat([
      encodeTarHeader({ name: 'base/1/1', size: data.length, mode: 0o600, uid: 0, gid: 0, mtime: 0, type: 'file', linkTarget: '' }),
      data,
      Buffer.alloc((512 - (data.length % 512)) % 512),
      Buffer.alloc(1024),
    ]),
  );
  for (const inPlace of [false, true]) {
    it(`a sink ${inPlace ? 'that copies (inPlace)' : 'that keeps views'}: what it kept is the member's data`, async () => {
      const sink = new KeepingSink(inPlace);
      await pumpArchiveFile(path, 'none', sink);
      expect(sink.kept.length).toBeGreaterThan(1);
      expect(Buffer.concat(sink.kept).equals(data)).toBe(true);
    });
  }
});
