/**
 * -t/--target: `server:/dir` (the server writes the backup into a directory on its side: here a
 * directory that the server's user, nobody, may write) and `blackhole`, with their restrictions.
 * Nothing is written on the client's side: the client runs in an empty directory that must stay empty.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, extractTar, manifestProblems, parseManifest, runBasebackup, scanTar, socketArgs, tarBackupFiles } from '../support/backup-helpers.js';
import { chownForServer, makeTempDir, PgCluster, type Major } from '../support/pg-cluster.js';
import { decompress, digests, loadSource, startAndCompare } from './compress-support.js';

describe.each([15, 18] as Major[])('PostgreSQL %i: backup targets', (major) => {
  let work: string;
  let serverSide: string;
  let cwd: string;
  let src: PgCluster;
  let expected: Record<string, string>;
  let seq = 0;

  beforeAll(async () => {
    work = makeTempDir(`pgbb-target${major}-`);
    mkdirSync(join(work, 'home'));
    cwd = join(work, 'cwd');
    mkdirSync(cwd);
    serverSide = join(work, 'server-side');
    mkdirSync(serverSide);
    chownForServer(serverSide); // the server (nobody) creates the target directories in here
    src = await PgCluster.start({ major, conf: { autovacuum: 'off' } });
    await loadSource(src, undefined, 5000);
    await src.query('CREATE ROLE rep LOGIN REPLICATION');
    expected = await digests(src);
  });

  afterAll(async () => {
    await src?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const run = (args: string[], user = 'postgres') =>
    runBasebackup(['-h', src.socketDir, '-p', String(src.port), '-U', user, '-c', 'fast', ...args], { env: clientEnv(join(work, 'home')), cwd });

  async function checkServerBackup(dir: string, archive: string, compressed: boolean): Promise<void> {
    expect(readdirSync(dir).sort()).toEqual(['backup_manifest', archive]);
    const raw = readFileSync(join(dir, archive));
    const tar = compressed ? await decompress('gzip', raw) : raw;
    const m = parseManifest(readFileSync(join(dir, 'backup_manifest')));
    expect(m.computedChecksum).toBe(m.recordedChecksum);
    expect(manifestProblems(m, tarBackupFiles([{ scan: scanTar(tar, { checksum: 'CRC32C' }), prefix: '' }], true))).toEqual([]);
    const target = join(work, `restore-${++seq}`);
    mkdirSync(target);
    try {
      await extractTar(tar, target);
      await startAndCompare(target, [], { major, digests: expected });
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  }

  it('server:/dir -X fetch: the server writes base.tar and backup_manifest there, nothing is written here; it restores', async () => {
    const dir = join(serverSide, `bk-${++seq}`);
    const r = await run(['-t', `server:${dir}`, '-X', 'fetch', '-v']);
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain('syncing data to disk');
    expect(r.stderr).not.toContain('renaming backup_manifest.tmp');
    expect(readdirSync(cwd)).toEqual([]);
    await checkServerBackup(dir, 'base.tar', false);
  });

  it('server:/dir with -Z gzip: compression goes to the server (base.tar.gz there); it restores', async () => {
    const dir = join(serverSide, `bk-${++seq}`);
    const r = await run(['-t', `server:${dir}`, '-X', 'fetch', '-Z', 'gzip:4']);
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.status).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    await checkServerBackup(dir, 'base.tar.gz', true);
  });

  it('server:/dir needs superuser or pg_write_server_files (the server says so)', async () => {
    const dir = join(serverSide, `bk-${++seq}`);
    const denied = await run(['-t', `server:${dir}`, '-X', 'none'], 'rep');
    expect(denied.status).toBe(1);
    // 15: "must be superuser or a role with privileges of the pg_write_server_files role ..."; 16+: a DETAIL line says it
    expect(denied.stderr).toMatch(/^pg_basebackup: error: could not initiate base backup: ERROR: {2}(.|\n)*pg_write_server_files/);
    expect(existsSync(dir)).toBe(false);
    await src.query('GRANT pg_write_server_files TO rep');
    try {
      const allowed = await run(['-t', `server:${dir}`, '-X', 'none'], 'rep');
      expect(allowed.stderr).not.toMatch(/error|warning/);
      expect(allowed.status).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(['backup_manifest', 'base.tar']);
    } finally {
      await src.query('REVOKE pg_write_server_files FROM rep');
    }
  });

  it.each([
    ['a relative directory', (d: string) => ['-t', `server:${d.slice(1)}`], /relative path not allowed for backup stored on server/],
    ['no directory', () => ['-t', 'server'], /target "server" requires a target detail/],
    ['a non-empty directory', (d: string) => ['-t', `server:${d}`], /directory ".*" exists but is not empty/],
    ['an unknown target', () => ['-t', 'tape:/dev/st0'], /unrecognized target: "tape"/],
  ])('server target with %s: the server refuses it', async (_what, args, message) => {
    const dir = join(serverSide, `full-${++seq}`);
    mkdirSync(dir);
    mkdirSync(join(dir, 'something'));
    const r = await run([...args(dir), '-X', 'none']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('blackhole: succeeds, the data goes nowhere, nothing is written here', async () => {
    const r = await run(['-t', 'blackhole', '-X', 'fetch', '-v', '-P']);
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('base backup completed');
    expect(readdirSync(cwd)).toEqual([]);
    const gz = await run(['-t', 'blackhole', '-X', 'none', '-Z', 'server-gzip']);
    expect(gz.status).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('restrictions: -R after connecting, -X stream and client compression before', async () => {
    const r = await run(['-t', 'blackhole', '-X', 'fetch', '-R']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('pg_basebackup: error: recovery configuration cannot be written when a backup target is used\n');
    const s = await run(['-t', 'blackhole']);
    expect(s.stderr.split('\n')[0]).toBe('pg_basebackup: error: WAL cannot be streamed when a backup target is specified');
    const c = await run(['-t', 'blackhole', '-X', 'none', '-Z', 'client-zstd']);
    expect(c.stderr.split('\n')[0]).toBe('pg_basebackup: error: client-side compression is not possible when a backup target is specified');
    expect(readdirSync(cwd)).toEqual([]);
  });
});
