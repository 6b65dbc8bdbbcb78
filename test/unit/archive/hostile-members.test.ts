/**
 * Issue 10: members at paths the client writes itself, -R files that are symlinks, and the client's
 * own files never written through what already sits at their path.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileError, ProtocolError } from '../../../src/errors.js';
import { Extractor } from '../../../src/archive/extractor.js';
import { FileWriter } from '../../../src/archive/file-writer.js';
import { RecoveryInjector } from '../../../src/archive/recovery-injector.js';
import { TarParserStage } from '../../../src/archive/tar-parser.js';
import { feed, tarStreamPack, type PackEntry } from './helpers.js';

let tmp: string;
let victim: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'pgbb-hostile-members-'));
  victim = join(tmp, 'victim');
  writeFileSync(victim, 'precious');
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

async function extract(entries: PackEntry[], opts: { reservedPaths?: string[]; recovery?: boolean } = {}): Promise<unknown> {
  const base = join(tmp, 'data');
  mkdirSync(base, { recursive: true });
  const ex = new Extractor({ baseDir: base, dataDirMode: 0o700, ...(opts.reservedPaths ? { reservedPaths: opts.reservedPaths } : {}) });
  const head = opts.recovery ? new RecoveryInjector(ex, { recoveryConf: "primary_conninfo = 'x'\n", fileMode: 0o600 }) : ex;
  return feed(new TarParserStage(head), [await tarStreamPack(entries)]).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('reserved paths (files the client writes itself)', () => {
  const reserved = ['backup_manifest', 'backup_manifest.tmp', 'pg_wal/'];

  it.each([
    [{ name: 'backup_manifest.tmp', type: 'symlink' as const, linkname: '/etc/passwd' }, 'backup_manifest.tmp'],
    [{ name: 'backup_manifest', data: 'x' }, 'backup_manifest'],
    [{ name: './backup_manifest.tmp', data: 'x' }, './backup_manifest.tmp'],
    [{ name: 'pg_wal/000000010000000000000002', data: 'x' }, 'pg_wal/000000010000000000000002'],
    [{ name: 'pg_wal/archive_status/x.done', type: 'symlink' as const, linkname: '/tmp' }, 'pg_wal/archive_status/x.done'],
  ])('refuses %j', async (entry, shown) => {
    const err = await extract([{ name: 'pg_wal', type: 'directory' }, entry], { reservedPaths: reserved });
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(new RegExp(`^tar member "${shown.replace(/\./g, '\\.')}/?" would collide with a file pg_basebackup writes itself$`));
  });

  it('directories under a reserved prefix are fine (pg_wal/archive_status), and nothing is reserved without the option', async () => {
    expect(await extract([{ name: 'pg_wal', type: 'directory' }, { name: 'pg_wal/archive_status', type: 'directory' }], { reservedPaths: reserved })).toBeUndefined();
    expect(await extract([{ name: 'backup_manifest', data: 'x' }])).toBeUndefined();
  });
});

describe('-R files that are not regular files', () => {
  it.each(['postgresql.auto.conf', 'standby.signal'])('%s as a symlink is refused', async (name) => {
    const err = await extract([{ name, type: 'symlink', linkname: victim }], { recovery: true });
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toBe(`tar member "${name}" is not a regular file`);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });

  it('as regular files they are handled as before', async () => {
    expect(await extract([{ name: 'postgresql.auto.conf', data: '# x\n' }, { name: 'standby.signal', data: '' }], { recovery: true })).toBeUndefined();
    expect(readFileSync(join(tmp, 'data', 'postgresql.auto.conf'), 'utf8')).toBe("# x\nprimary_conninfo = 'x'\n");
  });
});

describe('FileWriter creates a new file', () => {
  it('never writes through a symlink or over a file already at its path', () => {
    symlinkSync(victim, join(tmp, 'base.tar'));
    expect(() => new FileWriter({ path: join(tmp, 'base.tar'), mode: 0o600 })).toThrow(FileError);
    expect(() => new FileWriter({ path: join(tmp, 'base.tar'), mode: 0o600 })).toThrow(`could not create file "${join(tmp, 'base.tar')}": File exists`);
    expect(() => new FileWriter({ path: victim, mode: 0o600 })).toThrow('File exists');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});

describe('pg_wal.tar.gz (client gzip of the streamed WAL) is a new file', () => {
  it('a symlink at its path is not written through', async () => {
    const { gzipFileInPlace } = await import('../../../src/compression/gzip-file.js');
    writeFileSync(join(tmp, 'pg_wal.tar'), Buffer.alloc(4096, 1));
    symlinkSync(victim, join(tmp, 'pg_wal.tar.gz'));
    await expect(gzipFileInPlace(join(tmp, 'pg_wal.tar'), undefined)).rejects.toThrow(FileError);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});
