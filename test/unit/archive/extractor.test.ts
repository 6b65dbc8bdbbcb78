import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileError, ProtocolError } from '../../../src/errors.js';
import { Extractor, mayAlreadyExist, newExtractionRecord, type ExtractorOptions } from '../../../src/archive/extractor.js';
import { RecoveryInjector } from '../../../src/archive/recovery-injector.js';
import { TarParserStage } from '../../../src/archive/tar-parser.js';
import { feed, feedings, fixture, tarStreamPack, type PackEntry } from './helpers.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-extract-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Every entry under `dir`: type, permission bits, and contents or link target. */
function snapshot(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const rel = prefix + name;
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
    else if (st.isDirectory()) out.push(`${rel}/ ${mode}`, ...snapshot(p, `${rel}/`));
    else out.push(`${rel} ${mode} ${readFileSync(p).toString('latin1')}`);
  }
  return out;
}

/** The promise fails with exactly this error class and message. */
async function expectFailure(p: Promise<unknown>, cls: typeof FileError | typeof ProtocolError, message: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(message);
}

async function extract(pieces: Buffer[], options: Partial<ExtractorOptions> & { baseDir: string }): Promise<Extractor> {
  const ex = new Extractor({ dataDirMode: 0o700, ...options });
  await feed(new TarParserStage(ex), pieces);
  return ex;
}

async function extractEntries(entries: PackEntry[], options: Partial<ExtractorOptions> = {}): Promise<Extractor> {
  return extract([await tarStreamPack(entries)], { baseDir: join(tmp, 'data'), ...options });
}

describe('Extractor', () => {
  it('extracts a GNU tar archive however it is fed, with modes limited by the data directory mode', async () => {
    const archive = fixture('gnu-ustar.tar');
    const mkBase = (tag: string) => {
      const d = join(tmp, tag);
      mkdirSync(d);
      return d;
    };
    const ref = mkBase('ref');
    await extract([archive], { baseDir: ref });
    const expected = snapshot(ref);
    expect(expected).toContain('dir/ 700');
    expect(expected).toContain('dir/hello.txt 600 hello\n');
    expect(expected).toContain('dir/empty 600 ');
    expect(expected).toContain(`dir/${'n'.repeat(95)} 600 long\n`);
    expect(expected).toContain(`dir/sub/odd1300 600 ${'b'.repeat(1300)}`);
    expect(expected).toContain('link -> /somewhere/else');
    let n = 0;
    for (const [how, pieces] of feedings(archive, false)) {
      const d = mkBase(`f${n++}`);
      await extract(pieces, { baseDir: d });
      expect(snapshot(d), how).toEqual(expected);
    }
    for (let cut = 1; cut < archive.length; cut += 97) {
      const d = mkBase(`s${cut}`);
      await extract([archive.subarray(0, cut), archive.subarray(cut)], { baseDir: d });
      expect(snapshot(d), `split at ${cut}`).toEqual(expected);
    }
  });

  it('grants group read access when the server data directory has it (0750: files 0640, directories 0750)', async () => {
    const base = join(tmp, 'g');
    mkdirSync(base);
    await extract([fixture('gnu-ustar.tar')], { baseDir: base, dataDirMode: 0o750 });
    const snap = snapshot(base);
    expect(snap).toContain('dir/ 750');
    expect(snap).toContain('dir/hello.txt 640 hello\n');
  });

  it("keeps the server's modes of a real base.tar excerpt", async () => {
    const base = join(tmp, 'pg');
    mkdirSync(base);
    await extract([fixture('pg15-base-excerpt.tar')], { baseDir: base });
    const snap = snapshot(base).map((l) => l.slice(0, 40));
    expect(snap).toContain('PG_VERSION 600 15\n');
    expect(snap).toContain('global/ 700');
    expect(snap).toContain('pg_stat/ 700');
    expect(snap.some((l) => l.startsWith('global/pg_control 600 '))).toBe(true);
    expect(lstatSync(join(base, 'global/1261')).size).toBe(8192);
  });

  it('maps symlink targets and records the links it created', async () => {
    const record = newExtractionRecord();
    const reported: string[] = [];
    const base = join(tmp, 'data');
    mkdirSync(base);
    await extractEntries(
      [
        { name: 'pg_tblspc', type: 'directory' },
        { name: 'pg_tblspc/16384', type: 'symlink', linkname: '/srv/old' },
        { name: 'PG_VERSION', data: '16\n' },
      ],
      { record, mapLink: (t) => (t === '/srv/old' ? '/srv/new' : t), reportOutputFile: (p) => reported.push(p) },
    );
    expect(readlinkSync(join(base, 'pg_tblspc/16384'))).toBe('/srv/new');
    expect([...record.symlinks]).toEqual([join(base, 'pg_tblspc/16384')]);
    expect(reported).toEqual([`${base}/pg_tblspc`, `${base}/pg_tblspc/16384`, `${base}/PG_VERSION`]);
  });

  it('streams large files in batches', async () => {
    const big = Buffer.alloc(50_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    const archive = await tarStreamPack([{ name: 'big', data: big }, { name: 'small', data: 'x' }]);
    for (const [how, pieces] of feedings(archive, false)) {
      const base = join(tmp, how.replace(/ /g, '_'));
      mkdirSync(base);
      await extract(pieces, { baseDir: base, smallFileBytes: 1000, batchBytes: 4096 });
      expect(readFileSync(join(base, 'big')).equals(big), how).toBe(true);
      expect(readFileSync(join(base, 'small'), 'utf8')).toBe('x');
      expect(lstatSync(join(base, 'big')).mode & 0o777).toBe(0o600);
    }
  });

  it('writes through in place: fed from one reused buffer, overwritten after every write, it keeps nothing and never waits', async () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) % 251;
    const archive = await tarStreamPack([
      { name: 'base', type: 'directory' },
      { name: 'base/big', data: big },
      { name: 'base/odd', data: 'y'.repeat(1300) },
      { name: 'base/empty', data: '' },
      { name: 'postgresql.auto.conf', data: 'a = 1\n' },
    ]);
    const expectedBase = join(tmp, 'expected');
    mkdirSync(expectedBase);
    await extract([archive], { baseDir: expectedBase });
    for (const piece of [1, 100, 511, 513, 4096, 32_768, archive.length]) {
      const base = join(tmp, `in-place-${piece}`);
      mkdirSync(base);
      const done: string[] = [];
      const ex = new Extractor({ baseDir: base, dataDirMode: 0o700, writeThrough: true, fileDone: (p) => done.push(p) });
      const head = new TarParserStage(new RecoveryInjector(ex, { recoveryConf: "b = 2\n", fileMode: 0o600, now: () => 0 }));
      expect(head.inPlace).toBe(true);
      const reused = Buffer.alloc(piece);
      for (let at = 0; at < archive.length; at += piece) {
        const n = archive.copy(reused, 0, at, Math.min(at + piece, archive.length));
        expect(head.write(reused.subarray(0, n))).toBeUndefined();
        reused.fill(0xa5);
      }
      await head.finish();
      const got = snapshot(base);
      expect(got.filter((l) => !l.startsWith('postgresql.auto.conf') && !l.startsWith('standby.signal'))).toEqual(snapshot(expectedBase).filter((l) => !l.startsWith('postgresql.auto.conf')));
      expect(got).toContain('postgresql.auto.conf 600 a = 1\nb = 2\n');
      expect(readFileSync(join(base, 'base', 'big')).equals(big)).toBe(true);
      // Each regular file is reported once it is complete (for its early fsync), in archive order.
      expect(done.map((p) => p.slice(base.length + 1))).toEqual(['base/big', 'base/odd', 'base/empty', 'postgresql.auto.conf', 'standby.signal']);
    }
    // An in-place sink may ask to wait: the chunks of the same input still to come are copied first.
    const waiting = join(tmp, 'waiting');
    mkdirSync(waiting);
    const inner = new Extractor({ baseDir: waiting, dataDirMode: 0o700, writeThrough: true });
    let calls = 0;
    const slow = {
      inPlace: true,
      content: (c: Parameters<Extractor['content']>[0]) => {
        inner.content(c);
        return ++calls % 3 === 0 ? new Promise<void>((r) => setTimeout(r, 1)) : undefined;
      },
      finish: () => inner.finish(),
      abort: () => inner.abort(),
    };
    const head = new TarParserStage(slow);
    expect(head.inPlace).toBe(true);
    const reused = Buffer.alloc(70_000);
    for (let at = 0; at < archive.length; at += reused.length) {
      const n = archive.copy(reused, 0, at, Math.min(at + reused.length, archive.length));
      const r = head.write(reused.subarray(0, n));
      reused.fill(0x3c);
      if (r !== undefined) await r;
    }
    await head.finish();
    expect(snapshot(waiting)).toEqual(snapshot(expectedBase));
    // Without writeThrough the extractor batches (keeps buffers): not in place.
    expect(new TarParserStage(new Extractor({ baseDir: tmp, dataDirMode: 0o700 })).inPlace).toBe(false);
  });

  it('writes the files injected for -R (plain format)', async () => {
    const base = join(tmp, 'r');
    mkdirSync(base);
    const archive = await tarStreamPack([{ name: 'PG_VERSION', data: '17\n' }, { name: 'standby.signal', data: 'old' }]);
    const ex = new Extractor({ baseDir: base, dataDirMode: 0o750 });
    await feed(new TarParserStage(new RecoveryInjector(ex, { recoveryConf: "primary_conninfo = ''\n", fileMode: 0o640 })), [archive]);
    expect(snapshot(base)).toEqual(['PG_VERSION 600 17\n', "postgresql.auto.conf 640 primary_conninfo = ''\n", 'standby.signal 640 ']);
  });

  describe('directories that may already exist', () => {
    it.each([
      ['/d/pg_wal', true],
      ['/d/pg_xlog', true],
      ['/d/pg_wal/archive_status', true],
      ['/d/pg_wal/summaries', true],
      ['/d/pg_tblspc', true],
      ['/d/pg_tblspc/16384', true],
      ['/d/pg_tblspc/16384/PG_17', false],
      ['/d/base/16384', false],
      ['/d/global', false],
      ['/d/pg_tblspc/1a', false],
    ])('%s: %s', (path, allowed) => {
      expect(mayAlreadyExist(path)).toBe(allowed);
    });

    it('tolerates pg_wal and archive_status made by the WAL receiver, but not other directories', async () => {
      const base = join(tmp, 'data');
      mkdirSync(join(base, 'pg_wal/archive_status'), { recursive: true });
      await extractEntries([
        { name: 'pg_wal', type: 'directory' },
        { name: 'pg_wal/archive_status', type: 'directory' },
      ]);
      mkdirSync(join(base, 'global'));
      await expectFailure(extractEntries([{ name: 'global', type: 'directory' }]), FileError, `could not create directory "${base}/global": File exists`);
    });

    it('writes WAL members through a pg_wal symlink made for --waldir', async () => {
      const base = join(tmp, 'data');
      const waldir = join(tmp, 'waldir');
      mkdirSync(base);
      mkdirSync(waldir);
      symlinkSync(waldir, join(base, 'pg_wal'));
      await extractEntries([
        { name: 'pg_wal', type: 'directory' },
        { name: 'pg_wal/000000010000000000000002', data: 'wal' },
        { name: 'pg_wal/archive_status', type: 'directory' },
        { name: 'pg_wal/archive_status/000000010000000000000002.done', data: '' },
      ]);
      expect(readFileSync(join(waldir, '000000010000000000000002'), 'utf8')).toBe('wal');
      expect(existsSync(join(waldir, 'archive_status/000000010000000000000002.done'))).toBe(true);
      expect(lstatSync(join(base, 'pg_wal')).isSymbolicLink()).toBe(true);
    });
  });

  describe('never writes outside the target directory', () => {
    let outside: string;
    beforeEach(() => {
      outside = join(tmp, 'outside');
      mkdirSync(outside);
      mkdirSync(join(tmp, 'data'));
    });

    it.each(['../x', 'a/../../x', '/etc/x', `${'/'}tmp/x`, 'base/..', '..'])('rejects the name %j', async (name) => {
      await expectFailure(extractEntries([{ name, data: 'evil' }]), ProtocolError, `tar member "${name}" would be written outside the target directory`);
      expect(readdirSync(outside)).toEqual([]);
      expect(existsSync(join(tmp, 'x'))).toBe(false);
    });

    it('rejects a member written through a symlink the archive created', async () => {
      const base = join(tmp, 'data');
      const entries: PackEntry[] = [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'evil/pwned', data: 'evil' },
      ];
      await expectFailure(
        extractEntries(entries),
        ProtocolError,
        `tar member "evil/pwned" would be written through symbolic link "${base}/evil"`,
      );
      expect(readdirSync(outside)).toEqual([]);
    });

    it('rejects a tablespace symlink followed by members inside it', async () => {
      await expect(
        extractEntries([
          { name: 'pg_tblspc', type: 'directory' },
          { name: 'pg_tblspc/16384', type: 'symlink', linkname: outside },
          { name: 'pg_tblspc/16384/PG_17_1', type: 'directory' },
        ]),
      ).rejects.toThrow(/would be written through symbolic link/);
      await expect(
        extractEntries([{ name: 'pg_tblspc/16386', type: 'symlink', linkname: outside }, { name: 'pg_tblspc/16386', type: 'directory' }], {
          baseDir: join(tmp, 'data'),
        }),
      ).rejects.toThrow(/would replace symbolic link/);
      await expect(
        extractEntries([{ name: 'pg_tblspc/16385', type: 'symlink', linkname: outside }, { name: 'pg_tblspc//16385/./f', data: 'x' }], {
          baseDir: join(tmp, 'data'),
        }),
      ).rejects.toThrow(/would be written through symbolic link/);
      expect(readdirSync(outside)).toEqual([]);
    });

    it('rejects a member replacing a symlink the archive created, across archives of one backup', async () => {
      const record = newExtractionRecord();
      await extractEntries([{ name: 'l', type: 'symlink', linkname: outside }], { record });
      await expect(extractEntries([{ name: 'l', data: 'evil' }], { record })).rejects.toThrow(/would replace symbolic link/);
      expect(readdirSync(outside)).toEqual([]);
    });

    it('does not follow a symlink found in place of a file', async () => {
      const base = join(tmp, 'data');
      writeFileSync(join(outside, 'victim'), 'safe');
      symlinkSync(join(outside, 'victim'), join(base, 'PG_VERSION'));
      await expectFailure(
        extractEntries([{ name: 'PG_VERSION', data: 'evil' }]),
        FileError,
        `could not create file "${base}/PG_VERSION": Too many levels of symbolic links`,
      );
      expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('safe');
    });

    it('fails to create a symlink over an existing entry', async () => {
      const base = join(tmp, 'data');
      const entries: PackEntry[] = [
        { name: 'x', data: '1' },
        { name: 'x', type: 'symlink', linkname: outside },
      ];
      await expectFailure(
        extractEntries(entries),
        FileError,
        `could not create symbolic link from "${base}/x" to "${outside}": File exists`,
      );
    });
  });

  it('reports pg\'s message when a file cannot be created', async () => {
    const base = join(tmp, 'data');
    mkdirSync(base);
    await expectFailure(extractEntries([{ name: 'nodir/file', data: 'x' }]), FileError, `could not create file "${base}/nodir/file": No such file or directory`);
  });
});
