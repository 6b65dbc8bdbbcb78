/**
 * The chain factory end to end: a simulated BASE_BACKUP COPY stream through the demultiplexer into
 * real files, directories and a stream standing in for stdout.
 */
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { CopyStreamDemux } from '../../../src/archive/copy-stream-demux.js';
import { createArchiveChain, extractionDirectory, type ArchiveChainHandle, type ChainEnvironment } from '../../../src/archive/create-chain.js';
import type { ArchivePlan } from '../../../src/archive/build-chain.js';
import { newExtractionRecord } from '../../../src/archive/extractor.js';
import type { ByteSink } from '../../../src/archive/streamer.js';
import { CollectingByteSink, tarStreamEntries, tarStreamPack } from './helpers.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-chain-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const R = "primary_conninfo = 'host=primary'\n";
const MANIFEST = '{ "PostgreSQL-Backup-Manifest-Version": 2 }\n';

interface Archive {
  name: string;
  location: string;
  bytes: Buffer;
}

/** The CopyData payloads of a 15+ BASE_BACKUP stream, data cut into pieces of varying sizes. */
function copyStream(archives: Archive[], manifest: string | undefined): Buffer[] {
  const out: Buffer[] = [];
  let done = 0n;
  let size = 1;
  for (const a of archives) {
    out.push(Buffer.concat([Buffer.from(`n${a.name}\0${a.location}\0`)]));
    for (let off = 0; off < a.bytes.length; ) {
      size = (size * 7 + 3) % 997 + 1;
      out.push(Buffer.concat([Buffer.from('d'), a.bytes.subarray(off, off + size)]));
      off += size;
    }
    done += BigInt(a.bytes.length);
    const p = Buffer.alloc(9, 0x70);
    p.writeBigUInt64BE(done, 1);
    out.push(p);
  }
  if (manifest !== undefined) {
    out.push(Buffer.from('m'));
    out.push(Buffer.concat([Buffer.from('d'), Buffer.from(manifest)]));
  }
  return out;
}

interface RunOptions {
  plan: Omit<ArchivePlan, 'isBase' | 'archiveName'>;
  env: Omit<ChainEnvironment, 'spcLocation'>;
  manifestToFile?: boolean;
}

/** A driver in miniature: one chain per archive, the manifest into the chain (stdout) or a file sink. */
async function runBackup(payloads: Buffer[], o: RunOptions): Promise<{ handles: ArchiveChainHandle[]; manifestFile: CollectingByteSink }> {
  const handles: ArchiveChainHandle[] = [];
  const manifestFile = new CollectingByteSink();
  const demux = new CopyStreamDemux({
    startArchive(name, spcLocation) {
      const h = createArchiveChain({ ...o.plan, isBase: spcLocation === undefined, archiveName: name }, { ...o.env, spcLocation });
      handles.push(h);
      return h.head;
    },
    startManifest(): ByteSink {
      const inject = handles.at(-1)?.manifestSink;
      return inject ? inject() : manifestFile;
    },
  });
  try {
    for (const p of payloads) await demux.write(p);
    await demux.end();
  } catch (e) {
    await demux.abort(e);
    throw e;
  }
  return { handles, manifestFile };
}

async function sampleArchives(tsDir = '/srv/ts'): Promise<Archive[]> {
  const ts = await tarStreamPack([
    { name: 'PG_17_202406281', type: 'directory' },
    { name: 'PG_17_202406281/5', type: 'directory' },
    { name: 'PG_17_202406281/5/16390', data: Buffer.alloc(20_000, 3) },
  ]);
  const base = await tarStreamPack([
    { name: 'backup_label', data: 'LABEL: test\n' },
    { name: 'PG_VERSION', data: '17\n' },
    { name: 'global', type: 'directory' },
    { name: 'global/pg_control', data: Buffer.alloc(8192, 1) },
    { name: 'pg_tblspc', type: 'directory' },
    { name: 'pg_tblspc/16384', type: 'symlink', linkname: tsDir },
    { name: 'pg_wal', type: 'directory' },
  ]);
  return [
    { name: '16384.tar', location: tsDir, bytes: ts },
    { name: 'base.tar', location: '', bytes: base },
  ];
}

const plainPlan = { format: 'plain', toStdout: false, injectManifest: false, serverCompression: 'none', clientCompression: 'none' } as const;
const tarPlan = { ...plainPlan, format: 'tar' } as const;

describe('createArchiveChain', () => {
  it('-Fp: extracts the base and the mapped tablespace, the symlink pointing at the new place', async () => {
    const archives = await sampleArchives('/srv/ts');
    const data = join(tmp, 'data');
    const newTs = join(tmp, 'newts');
    mkdirSync(data);
    mkdirSync(newTs);
    const record = newExtractionRecord();
    const { handles, manifestFile } = await runBackup(copyStream(archives, MANIFEST), {
      plan: plainPlan,
      env: { baseDir: data, dataDirMode: 0o700, mapTablespace: (p) => (p === '/srv/ts' ? newTs : p), extractionRecord: record },
    });
    expect(handles.map((h) => [h.chain.stages, h.extractDirectory])).toEqual([
      [['tar-parser', 'extractor'], newTs],
      [['tar-parser', 'extractor'], data],
    ]);
    expect(readFileSync(join(newTs, 'PG_17_202406281/5/16390')).equals(Buffer.alloc(20_000, 3))).toBe(true);
    expect(readlinkSync(join(data, 'pg_tblspc/16384'))).toBe(newTs);
    expect(readFileSync(join(data, 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(statSync(join(data, 'global')).mode & 0o777).toBe(0o700);
    expect(manifestFile.bytes.toString()).toBe(MANIFEST);
    expect([...record.symlinks]).toEqual([join(data, 'pg_tblspc/16384')]);
    expect(readFileSync(join(data, 'global/pg_control')).length).toBeGreaterThan(0);
  });

  it('-Fp -R -Z server-gzip: decompresses, injects, extracts', async () => {
    const [, base] = await sampleArchives();
    const data = join(tmp, 'data');
    mkdirSync(data);
    const gz = { name: 'base.tar.gz', location: '', bytes: gzipSync(base?.bytes as Buffer) };
    const { handles } = await runBackup(copyStream([gz], undefined), {
      plan: { ...plainPlan, serverCompression: 'gzip', injectRecovery: R },
      env: { baseDir: data, dataDirMode: 0o750 },
    });
    expect(handles[0]?.chain.stages).toEqual(['gzip-decompressor', 'tar-parser', 'recovery-injector', 'extractor']);
    expect(readFileSync(join(data, 'postgresql.auto.conf'), 'utf8')).toBe(R);
    expect(statSync(join(data, 'standby.signal')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(data, 'global/pg_control')).equals(Buffer.alloc(8192, 1))).toBe(true);
  });

  it('-Fp: a corrupt server-compressed archive fails with pg\'s message', async () => {
    const data = join(tmp, 'data');
    mkdirSync(data);
    const bad = { name: 'base.tar.gz', location: '', bytes: Buffer.from('this is not gzip at all') };
    await expect(runBackup(copyStream([bad], undefined), { plan: { ...plainPlan, serverCompression: 'gzip' }, env: { baseDir: data, dataDirMode: 0o700 } })).rejects.toThrow(
      /^could not decompress data: /,
    );
  });

  it('-Ft: writes the server\'s bytes verbatim, one file per archive', async () => {
    const archives = await sampleArchives();
    const out = join(tmp, 'out');
    mkdirSync(out);
    const created: string[] = [];
    const { manifestFile } = await runBackup(copyStream(archives, MANIFEST), {
      plan: tarPlan,
      env: { baseDir: out, dataDirMode: 0o700, onCreate: (p) => created.push(p) },
    });
    expect(readFileSync(join(out, 'base.tar')).equals(archives[1]?.bytes as Buffer)).toBe(true);
    expect(readFileSync(join(out, '16384.tar')).equals(archives[0]?.bytes as Buffer)).toBe(true);
    expect(created).toEqual([join(out, '16384.tar'), join(out, 'base.tar')]);
    expect(statSync(join(out, 'base.tar')).mode & 0o777).toBe(0o600);
    expect(manifestFile.bytes.toString()).toBe(MANIFEST);
  });

  it('-Ft -z -R: base.tar.gz holds the injected files, the tablespace is compressed as is', async () => {
    const archives = await sampleArchives();
    const out = join(tmp, 'out');
    mkdirSync(out);
    await runBackup(copyStream(archives, undefined), {
      plan: { ...tarPlan, clientCompression: 'gzip', injectRecovery: R },
      env: { baseDir: out, dataDirMode: 0o700, clientCompressionSpec: { level: 1 } },
    });
    expect(gunzipSync(readFileSync(join(out, '16384.tar.gz'))).equals(archives[0]?.bytes as Buffer)).toBe(true);
    const entries = await tarStreamEntries(gunzipSync(readFileSync(join(out, 'base.tar.gz'))));
    expect(entries.map((e) => e.name).slice(-2)).toEqual(['postgresql.auto.conf', 'standby.signal']);
    expect(entries.find((e) => e.name === 'postgresql.auto.conf')?.data.toString()).toBe(R);
  });

  it('-Ft -D - -R: one tar on "stdout", the manifest and recovery files injected before its end, in pg\'s order', async () => {
    const [, base] = await sampleArchives();
    const stdout = new PassThrough();
    const got: Buffer[] = [];
    stdout.on('data', (c: Buffer) => got.push(c));
    const { handles } = await runBackup(copyStream([base as Archive], MANIFEST), {
      plan: { ...tarPlan, toStdout: true, injectManifest: true, injectRecovery: R },
      env: { baseDir: '-', dataDirMode: 0o700, stdout },
    });
    expect(handles[0]?.chain.stages).toEqual(['tar-parser', 'recovery-injector', 'tar-archiver', 'file-writer']);
    const out = Buffer.concat(got);
    const entries = await tarStreamEntries(out);
    expect(entries.map((e) => e.name)).toEqual([
      'backup_label',
      'PG_VERSION',
      'global',
      'global/pg_control',
      'pg_tblspc',
      'pg_tblspc/16384',
      'pg_wal',
      'backup_manifest',
      'postgresql.auto.conf',
      'standby.signal',
    ]);
    const manifest = entries.find((e) => e.name === 'backup_manifest');
    expect(manifest?.data.toString()).toBe(MANIFEST);
    expect(manifest?.mode).toBe(0o600);
    expect(out.subarray(-1024).equals(Buffer.alloc(1024))).toBe(true);
    expect(out.length % 512).toBe(0);
    expect(stdout.writableEnded).toBe(false);
  });

  it('-Ft -D - -z: the manifest is injected before compression', async () => {
    const [, base] = await sampleArchives();
    const stdout = new PassThrough();
    const got: Buffer[] = [];
    stdout.on('data', (c: Buffer) => got.push(c));
    await runBackup(copyStream([base as Archive], MANIFEST), {
      plan: { ...tarPlan, toStdout: true, injectManifest: true, clientCompression: 'gzip' },
      env: { baseDir: '-', dataDirMode: 0o700, stdout },
    });
    const entries = await tarStreamEntries(gunzipSync(Buffer.concat(got)));
    expect(entries.at(-1)?.name).toBe('backup_manifest');
  });

  it('-Ft -D -: a slow stdout holds the COPY stream back', async () => {
    const big = await tarStreamPack([{ name: 'big', data: Buffer.alloc(6 * 1024 * 1024, 5) }]);
    const pending: (() => void)[] = [];
    let received = 0;
    const stdout = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _e, cb) {
        received += chunk.length;
        pending.push(() => cb());
      },
    });
    const demux = new CopyStreamDemux({
      startArchive: (name, loc) =>
        createArchiveChain({ ...tarPlan, toStdout: true, injectManifest: true, isBase: loc === undefined, archiveName: name }, { baseDir: '-', dataDirMode: 0o700, stdout }).head,
      startManifest: () => undefined,
    });
    const payloads = copyStream([{ name: 'base.tar', location: '', bytes: big }], undefined);
    let i = 0;
    let blocked: Promise<void> | undefined;
    for (; i < payloads.length && blocked === undefined; i++) {
      const r = demux.write(payloads[i] as Buffer);
      if (r) {
        // a write may resolve at once (batch handed out); keep going until one really waits
        const settled = await Promise.race([r.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 20))]);
        if (!settled) blocked = r;
      }
    }
    expect(blocked).toBeDefined();
    // bounded: about two 1 MiB write batches (one being written, one gathering) were taken in
    // before the stream pushed back, not the 6 MiB archive
    const consumed = payloads.slice(0, i).reduce((n, p) => n + p.length, 0);
    expect(consumed).toBeLessThan(2 * 1024 * 1024 + 64 * 1024);
    const drain = setInterval(() => pending.shift()?.(), 0);
    try {
      await blocked;
      for (; i < payloads.length; i++) await demux.write(payloads[i] as Buffer);
      await demux.end();
    } finally {
      clearInterval(drain);
    }
    expect(received).toBe(big.length);
  });

  it('extracts in-place tablespaces under the data directory and refuses locations that escape it', () => {
    expect(extractionDirectory({ baseDir: '/d', dataDirMode: 0o700, spcLocation: 'pg_tblspc/16385' })).toBe('/d/pg_tblspc/16385');
    expect(extractionDirectory({ baseDir: '/d', dataDirMode: 0o700, spcLocation: '/srv/ts', mapTablespace: () => '/n' })).toBe('/n');
    expect(extractionDirectory({ baseDir: '/d', dataDirMode: 0o700 })).toBe('/d');
    expect(() => extractionDirectory({ baseDir: '/d', dataDirMode: 0o700, spcLocation: '../etc' })).toThrow(/outside the target directory/);
  });
});
