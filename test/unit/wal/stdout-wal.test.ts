/**
 * Beyond pg, `-Ft -D - -X stream`: the spool of streamed WAL and its injection into the archive on
 * stdout (before the manifest, or before the trailer without one), streamed piece by piece; the chain
 * shape and the option checks that go with it.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildArchiveChain } from '../../../src/archive/build-chain.js';
import { CopyStreamDemux } from '../../../src/archive/copy-stream-demux.js';
import { createArchiveChain, type ArchiveChainHandle, type StreamInjectTarget } from '../../../src/archive/create-chain.js';
import { TarArchiver } from '../../../src/archive/tar-archiver.js';
import { WalSpool } from '../../../src/backup/wal-spool.js';
import { parseCommandLine } from '../../../src/cli/parse-args.js';
import { UsageError } from '../../../src/errors.js';
import { CollectingByteSink, tarStreamEntries, tarStreamPack } from '../archive/helpers.js';

const SEG = 1024 * 1024;
let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-stdoutwal-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

class Collect extends Writable {
  chunks: Buffer[] = [];
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(c));
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function* pieces(total: number, size: number, fill: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < total; off += size) yield Buffer.alloc(Math.min(size, total - off), fill);
}

/** One base archive through a -D - chain, with a manifest or not, and a WAL hook. */
async function runStdout(manifest: boolean, hook: (a: StreamInjectTarget) => Promise<void>): Promise<Buffer> {
  const base = await tarStreamPack([
    { name: 'backup_label', data: 'LABEL: x\n' },
    { name: 'pg_wal', type: 'directory' },
    { name: 'pg_wal/archive_status', type: 'directory' },
    { name: 'global/pg_control', data: Buffer.alloc(8192, 1) },
  ]);
  const out = new Collect();
  let handle: ArchiveChainHandle | undefined;
  const demux = new CopyStreamDemux({
    startArchive: (name) => {
      handle = createArchiveChain(
        { format: 'tar', isBase: true, archiveName: name, toStdout: true, injectManifest: manifest, injectWal: true, serverCompression: 'none', clientCompression: 'none' },
        { baseDir: tmp, dataDirMode: 0o700, stdout: out, beforeArchiveEnd: hook, now: () => 1_700_000_000 },
      );
      return handle.head;
    },
    startManifest: () => handle?.manifestSink?.(),
  });
  await demux.write(Buffer.from('nbase.tar\0\0'));
  for (let i = 0; i < base.length; i += 1000) await demux.write(Buffer.concat([Buffer.from('d'), base.subarray(i, i + 1000)]));
  if (manifest) {
    await demux.write(Buffer.from('m'));
    await demux.write(Buffer.from('d{"manifest":1}\n'));
  }
  await demux.end();
  return out.bytes;
}

describe('WAL injected into the archive on stdout', () => {
  it('goes in after the base members and before backup_manifest, streamed in pieces, sizes exact', async () => {
    const order: string[] = [];
    const tar = await runStdout(true, async (a) => {
      order.push('hook');
      await a.injectStream('pg_wal/000000010000000000000002', SEG, 0o600, pieces(SEG, 64 * 1024, 0x55));
      await a.injectStream('pg_wal/archive_status/000000010000000000000002.done', 0, 0o600, pieces(0, 1, 0));
    });
    expect(order).toEqual(['hook']);
    const entries = await tarStreamEntries(tar);
    expect(entries.map((e) => [e.name, e.size])).toEqual([
      ['backup_label', 9],
      ['pg_wal', 0],
      ['pg_wal/archive_status', 0],
      ['global/pg_control', 8192],
      ['pg_wal/000000010000000000000002', SEG],
      ['pg_wal/archive_status/000000010000000000000002.done', 0],
      ['backup_manifest', '{"manifest":1}\n'.length],
    ]);
    const seg = entries.find((e) => e.name === 'pg_wal/000000010000000000000002');
    expect(seg?.data?.every((b) => b === 0x55)).toBe(true);
    expect(tar.subarray(tar.length - 1024).every((b) => b === 0)).toBe(true);
  });

  it('without a manifest, goes in before the trailer', async () => {
    const tar = await runStdout(false, (a) => a.injectStream('pg_wal/000000010000000000000002', 700, 0o600, pieces(700, 300, 1)));
    const entries = await tarStreamEntries(tar);
    expect(entries.map((e) => e.name).at(-1)).toBe('pg_wal/000000010000000000000002');
    expect(entries.at(-1)?.size).toBe(700);
  });

  it('a failing hook fails the archive', async () => {
    await expect(runStdout(true, async () => Promise.reject(new Error('receiver died')))).rejects.toThrow('receiver died');
  });

  it('injectStream refuses pieces that do not add up to the size', async () => {
    const a = new TarArchiver(new CollectingByteSink());
    await expect(a.injectStream('x', 10, 0o600, pieces(11, 4, 0))).rejects.toThrow('injected member "x" has more than 10 bytes');
    await expect(new TarArchiver(new CollectingByteSink()).injectStream('y', 10, 0o600, pieces(9, 4, 0))).rejects.toThrow(
      'injected member "y" has 9 bytes, expected 10',
    );
  });
});

describe('WalSpool', () => {
  it('is a private directory with pg_wal\'s layout, listed segments first, done marks after; removed once', async () => {
    const spool = WalSpool.create(SEG, 0o640, tmp);
    expect(spool.dir.startsWith(join(tmp, 'pg_basebackup-wal-'))).toBe(true);
    expect(statSync(spool.dir).mode & 0o777).toBe(0o700);
    const w = spool.writer;
    for (const name of ['000000020000000000000005', '000000020000000000000004']) {
      const s = await w.openSegment(name);
      await s.write(0, Buffer.from(name));
      await s.close();
    }
    await w.markDone('000000020000000000000004');
    await w.writeFile('00000002.history', Buffer.from('1\t0/4000000\tx\n'));
    await w.markDone('00000002.history');
    await w.finish();
    expect(spool.members().map((m) => [m.name, m.size])).toEqual([
      ['pg_wal/00000002.history', 14],
      ['pg_wal/000000020000000000000004', SEG],
      ['pg_wal/000000020000000000000005', SEG],
      ['pg_wal/archive_status/00000002.history.done', 0],
      ['pg_wal/archive_status/000000020000000000000004.done', 0],
    ]);
    const got: { name: string; size: number; mode: number; bytes: number; pieces: number }[] = [];
    await spool.injectInto({
      async injectStream(name, size, mode, it) {
        let bytes = 0;
        let n = 0;
        for await (const p of it) {
          bytes += p.length;
          n++;
          expect(p.length).toBeLessThanOrEqual(1024 * 1024);
        }
        got.push({ name, size, mode, bytes, pieces: n });
      },
    });
    expect(got.map((g) => g.bytes)).toEqual(got.map((g) => g.size));
    expect(got.every((g) => g.mode === 0o640)).toBe(true);
    spool.remove();
    spool.remove();
    expect(existsSync(spool.dir)).toBe(false);
  });
});

describe('chain shape and options', () => {
  const plan = { format: 'tar', isBase: true, archiveName: 'base.tar', toStdout: true, injectManifest: false, injectWal: true, serverCompression: 'none', clientCompression: 'none' } as const;

  it('injecting WAL makes the stdout archive parsed and re-archived, even without a manifest', () => {
    expect(buildArchiveChain(plan).stages).toEqual(['tar-parser', 'tar-archiver', 'file-writer']);
    expect(buildArchiveChain({ ...plan, clientCompression: 'gzip' }).stages).toEqual(['tar-parser', 'tar-archiver', 'gzip-compressor', 'file-writer']);
  });

  it('refuses a server-compressed archive, with a hint', () => {
    const f = () => buildArchiveChain({ ...plan, archiveName: 'base.tar.gz', serverCompression: 'gzip' });
    expect(f).toThrow(UsageError);
    expect(f).toThrow('cannot inject write-ahead log into a compressed tar file');
  });

  it('accepts -Ft -D - with -X stream (pg does not); refuses it with server compression', () => {
    const r = parseCommandLine(['-D', '-', '-Ft']);
    expect(r.kind === 'run' && r.options.walMethod).toBe('stream');
    expect(parseCommandLine(['-D', '-', '-Ft', '-Xs', '-z']).kind).toBe('run');
    expect(() => parseCommandLine(['-D', '-', '-Ft', '-Z', 'server-gzip'])).toThrow(
      'cannot stream write-ahead logs into a server-compressed tar archive on standard output',
    );
    expect(parseCommandLine(['-D', '-', '-Ft', '-Z', 'server-gzip', '-Xf']).kind).toBe('run');
  });

  it('--recovery-conf-without-password: with -R only', () => {
    const r = parseCommandLine(['-D', 'x', '-R', '--recovery-conf-without-password']);
    expect(r.kind === 'run' && r.options.recoveryConfWithoutPassword).toBe(true);
    expect(() => parseCommandLine(['-D', 'x', '--recovery-conf-without-password'])).toThrow(
      '--recovery-conf-without-password needs --write-recovery-conf',
    );
    // An abbreviation works, and pg's own prefixes stay unambiguous.
    const a = parseCommandLine(['-D', 'x', '-R', '--rec']);
    expect(a.kind === 'run' && a.options.recoveryConfWithoutPassword).toBe(true);
    const b = parseCommandLine(['-D', 'x', '--no-pass']);
    expect(b.kind === 'run' && b.options.passwordMode).toBe('never');
  });
});
