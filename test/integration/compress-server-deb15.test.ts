/**
 * Server-side lz4 and zstd, which only Debian's PostgreSQL 15 server has here: plain format
 * decompresses them, tar format keeps the server's archives as they are, and -Ft -R (beyond pg)
 * decompresses, injects and compresses again.  Restored backups must read back identical.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, runBasebackup, scanTar, socketArgs } from '../support/backup-helpers.js';
import { DebianPg15Cluster, debianPg15Available, makeTempDir, type PgCluster } from '../support/pg-cluster.js';
import { plainCaseTest, tarCaseTest, type Source } from './compress-suite.js';
import { decompress, digests, loadSource } from './compress-support.js';

const available = debianPg15Available();
if (!available) {
  console.log("skipping by name \"Debian's PostgreSQL 15 server: server-side lz4 and zstd\": /usr/lib/postgresql/15/bin has no initdb, pg_ctl and postgres");
}

/** The first bytes of an LZ4 frame: magic, then FLG (0x40: linked blocks, as the server writes; 0x60: ours). */
function lz4Flg(expected: number): (raw: Buffer) => void {
  return (raw) => {
    expect(raw.readUInt32LE(0)).toBe(0x184d2204);
    expect(raw[4]).toBe(expected);
  };
}

describe.skipIf(!available)("Debian's PostgreSQL 15 server: server-side lz4 and zstd", () => {
  let work: string;
  let src: DebianPg15Cluster;
  let source: Source;
  const getSource = () => source;
  const getWork = () => work;

  beforeAll(async () => {
    work = makeTempDir('pgbb-deb15-compress-');
    mkdirSync(join(work, 'home'));
    src = await DebianPg15Cluster.start({ conf: { autovacuum: 'off' } });
    const tsDir = join(work, 'ts-source');
    const tsOid = await loadSource(src, tsDir);
    source = { cluster: src, major: 15, tsOid, tsDir, digests: await digests(src) };
  });

  afterAll(async () => {
    await src?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  plainCaseTest(getSource, getWork, 'server lz4, plain, -X stream', ['-Fp', '-Z', 'server-lz4', '-X', 'stream']);
  plainCaseTest(getSource, getWork, 'server zstd with 2 server workers, plain, -X fetch', ['-Fp', '-Z', 'server-zstd:level=5,workers=2', '-X', 'fetch']);

  tarCaseTest(getSource, getWork, {
    name: 'server lz4, tar, -X fetch: the server\'s base.tar.lz4 and <oid>.tar.lz4 as they came',
    args: ['-Ft', '-Z', 'server-lz4', '-X', 'fetch'],
    archiveSuffix: '.lz4',
    walFetched: true,
    checkRaw: lz4Flg(0x40),
  });
  tarCaseTest(getSource, getWork, {
    name: 'server zstd, tar, -X stream: base.tar.zst, <oid>.tar.zst and an uncompressed pg_wal.tar',
    args: ['-Ft', '-Z', 'server-zstd', '-X', 'stream'],
    archiveSuffix: '.zst',
    walTar: 'pg_wal.tar',
    walFetched: false,
  });
  tarCaseTest(getSource, getWork, {
    name: 'server lz4, tar, -X fetch -R: base.tar.lz4 decompressed, edited and compressed again',
    args: ['-Ft', '-Z', 'server-lz4', '-X', 'fetch', '-R'],
    archiveSuffix: '.lz4',
    walFetched: true,
    recovery: true,
    checkRaw: lz4Flg(0x60),
  });
  tarCaseTest(getSource, getWork, {
    name: 'server zstd:level=9, tar, -X fetch -R: base.tar.zst decompressed, edited and compressed again',
    args: ['-Ft', '-Z', 'server-zstd:level=9', '-X', 'fetch', '-R'],
    archiveSuffix: '.zst',
    walFetched: true,
    recovery: true,
    checkRaw: (raw) => expect(raw.readUInt32LE(0)).toBe(0xfd2fb528),
  });

  it('-D - -Ft -R --no-manifest with server zstd: standard output carries the edited archive, compressed again', async () => {
    const small = await DebianPg15Cluster.start({ conf: { autovacuum: 'off' } });
    try {
      await loadSource(small, undefined, 2000);
      const r = await runBasebackup([...socketArgs(small as unknown as PgCluster), '-D', '-', '-Ft', '-X', 'fetch', '-c', 'fast', '-R', '--no-manifest', '-Z', 'server-zstd'], {
        env: clientEnv(work),
      });
      expect(r.status).toBe(0);
      expect(r.stdout.readUInt32LE(0)).toBe(0xfd2fb528);
      const tar = await decompress('zstd', r.stdout);
      const members = scanTar(tar, { keepData: (n) => n === 'postgresql.auto.conf' }).members;
      const names = members.map((m) => m.name);
      expect(names[0]).toBe('backup_label');
      expect(names).toContain('standby.signal');
      expect(names).toContain('global/pg_control');
      expect(names.some((n) => n.startsWith('pg_wal/0000000100000000'))).toBe(true);
      expect(members.find((m) => m.name === 'postgresql.auto.conf')?.data?.toString()).toMatch(/^primary_conninfo = /m);
    } finally {
      await small.destroy();
    }
  });
});
