/**
 * `-D - -Ft` with client-side compression: standard output is one compressed tar that the standard
 * tools read through a pipe (`pg_basebackup -D - -Z gzip | gunzip | tar t`), complete (every file of
 * the manifest, the manifest as the last member) and restorable.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, clientEnv, extractTar, manifestProblems, parseManifest, runBasebackup, scanTar, socketArgs, tarBackupFiles } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { decompress, digests, loadSource, startAndCompare, TOOLS, type Algorithm } from './compress-support.js';

const MAJOR = 17;
const PIPES: Record<Algorithm, string> = { gzip: 'gunzip', lz4: 'lz4 -d', zstd: 'zstd -d -q' };

describe(`PostgreSQL ${MAJOR}: compressed tar on standard output`, () => {
  let work: string;
  let src: PgCluster;
  let expected: Record<string, string>;

  beforeAll(async () => {
    work = makeTempDir('pgbb-compress-stdout-');
    mkdirSync(join(work, 'home'));
    src = await PgCluster.start({ major: MAJOR, conf: { autovacuum: 'off' } });
    await loadSource(src, undefined, 5000);
    expected = await digests(src);
  });

  afterAll(async () => {
    await src?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const cli = () => [process.execPath, CLI, ...socketArgs(src), '-D', '-', '-Ft', '-c', 'fast'].map((a) => `'${a}'`).join(' ');

  it.each([
    ['gzip', ['-Z', 'gzip', '-X', 'fetch']],
    ['lz4', ['-Z', 'lz4', '-X', 'fetch']],
    ['zstd', ['-Z', 'zstd:level=1', '-X', 'fetch']],
  ] as [Algorithm, string[]][])('%s: pg_basebackup -D - | decompress | tar t lists every file, the manifest last', (alg, args) => {
    if (!TOOLS[alg]) {
      console.log(`skipping by name "${alg}: pg_basebackup -D - | decompress | tar t": the ${alg} tool is not installed`);
      return;
    }
    const copy = join(work, `stdout-${alg}.tar`);
    const pipeline = `set -o pipefail; ${cli()} ${args.join(' ')} | ${PIPES[alg]} | tee '${copy}' | tar tf -`;
    const r = spawnSync('bash', ['-c', pipeline], { encoding: 'utf8', env: clientEnv(join(work, 'home')), maxBuffer: 64 << 20 });
    expect(r.stderr.split('\n').filter((l) => /error|warning/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
    const names = r.stdout.split('\n').filter((l) => l !== '');
    expect(names[0]).toBe('backup_label');
    expect(names[names.length - 1]).toBe('backup_manifest');
    expect(names).toContain('global/pg_control');
    expect(names.some((n) => /^pg_wal\/[0-9A-F]{24}$/.test(n))).toBe(true);
    // complete: every file the manifest lists is in the listing
    const scan = scanTar(copy, { keepData: (n) => n === 'backup_manifest' });
    const m = parseManifest(scan.members[scan.members.length - 1]?.data as Buffer);
    expect(m.files.length).toBeGreaterThan(900);
    expect(m.files.map((f) => f.path).filter((p) => !names.includes(p))).toEqual([]);
    rmSync(copy);
  });

  it.each(['gzip', 'lz4', 'zstd'] as Algorithm[])('%s -X stream to stdout: the archive matches its manifest and restores', async (alg) => {
    const r = await runBasebackup([...socketArgs(src), '-D', '-', '-Ft', '-c', 'fast', '-X', 'stream', '-Z', alg], { env: clientEnv(join(work, 'home')) });
    expect(r.stderr.split('\n').filter((l) => /error|warning/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
    const tar = await decompress(alg, r.stdout);
    const scan = scanTar(tar, { checksum: 'CRC32C', keepData: (n) => n === 'backup_manifest' });
    const last = scan.members[scan.members.length - 1];
    expect(last?.name).toBe('backup_manifest');
    const m = parseManifest(last?.data as Buffer);
    expect(m.computedChecksum).toBe(m.recordedChecksum);
    const files = tarBackupFiles([{ scan, prefix: '' }], false);
    for (const n of [...files.keys()]) if (n.startsWith('pg_wal/')) files.delete(n); // streamed WAL is not in the manifest
    expect(manifestProblems(m, files)).toEqual([]);
    const target = join(work, `restore-${alg}`);
    mkdirSync(target);
    try {
      await extractTar(tar, target);
      await startAndCompare(target, [], { major: MAJOR, digests: expected });
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });

  it("server compression to stdout with a manifest: pg's refusal, with its hint", async () => {
    const r = await runBasebackup([...socketArgs(src), '-D', '-', '-Ft', '-c', 'fast', '-X', 'fetch', '-Z', 'server-gzip'], { env: clientEnv(join(work, 'home')) });
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('pg_basebackup: '))).toEqual([
      'pg_basebackup: error: cannot inject manifest into a compressed tar file',
      'pg_basebackup: hint: Use client-side compression, send the output to a directory rather than standard output, or use --no-manifest.',
    ]);
    expect(r.stdout.length).toBe(0);
  });
});
