/**
 * Server-side lz4 and zstd on PostgreSQL 18, from the server that ../shared/scripts/build-pg-tools.sh 18
 * builds with them into /opt/pg18 (the embedded 18 is built without them): plain format decompresses
 * them, tar format keeps the server's archives as they are, -Ft -R (beyond pg) decompresses, injects
 * and compresses again.  Restored backups must read back identical.  Skipped by name without /opt/pg18.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { plainCaseTest, tarCaseTest, type Source } from './compress-suite.js';
import { digests, loadSource } from './compress-support.js';

const PG18 = '/opt/pg18/bin';
const available = existsSync(join(PG18, 'postgres')) && existsSync(join(PG18, 'initdb'));
if (!available) console.log('skipping by name "PostgreSQL 18 server with lz4 and zstd": /opt/pg18/bin has no postgres and initdb');

describe.skipIf(!available)('PostgreSQL 18 server with lz4 and zstd: server-side lz4 and zstd', () => {
  let work: string;
  let src: PgCluster;
  let source: Source;
  const getSource = () => source;
  const getWork = () => work;

  beforeAll(async () => {
    work = makeTempDir('pgbb-pg18lz-compress-');
    mkdirSync(join(work, 'home'));
    src = await PgCluster.start({ major: 18, binDir: PG18, conf: { autovacuum: 'off' } });
    const tsDir = join(work, 'ts-source');
    const tsOid = await loadSource(src, tsDir);
    source = { cluster: src, major: 18, tsOid, tsDir, digests: await digests(src) };
  }, 180_000);

  afterAll(async () => {
    await src?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  plainCaseTest(getSource, getWork, 'server lz4, plain, -X stream', ['-Fp', '-Z', 'server-lz4', '-X', 'stream']);
  plainCaseTest(getSource, getWork, 'server zstd with 2 server workers, plain, -X fetch', ['-Fp', '-Z', 'server-zstd:level=5,workers=2', '-X', 'fetch']);
  tarCaseTest(getSource, getWork, {
    name: "server lz4, tar, -X fetch: the server's base.tar.lz4 and <oid>.tar.lz4 as they came",
    args: ['-Ft', '-Z', 'server-lz4', '-X', 'fetch'],
    archiveSuffix: '.lz4',
    walFetched: true,
    checkRaw: (raw) => expect(raw.readUInt32LE(0)).toBe(0x184d2204),
  });
  tarCaseTest(getSource, getWork, {
    name: 'server zstd:level=9, tar, -X fetch -R: base.tar.zst decompressed, edited and compressed again',
    args: ['-Ft', '-Z', 'server-zstd:level=9', '-X', 'fetch', '-R'],
    archiveSuffix: '.zst',
    walFetched: true,
    recovery: true,
    checkRaw: (raw) => expect(raw.readUInt32LE(0)).toBe(0xfd2fb528),
  });
});
