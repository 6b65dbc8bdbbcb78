/**
 * Issue 12, part 2: `pg_basebackup --verify` checks every file and the WAL against the manifest while
 * the backup streams, without reading the target back: on 15-18, plain and tar, -X stream and fetch,
 * -D -, client and server compression, incremental (17, 18).  A corruption injected between the server
 * and the writer (a proxy that flips one byte of a relation file in the COPY stream) fails the backup
 * with pg_verifybackup's wording, exit 1, a "failed" marker with PGBB_CHECKSUM, and the data kept.
 * Under strace, no file of the target is ever opened for reading.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, clientEnv, runBasebackup, runTool, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster, type Major } from '../support/pg-cluster.js';
import { markerOf } from './events-support.js';

const haveStrace = existsSync('/usr/bin/strace');

/**
 * A TCP proxy to the server's socket that flips one byte in the first CopyData ('d') message after a
 * tar header naming a relation file of `table` (the corruption happens after the server computed the
 * manifest checksum, before the client sees the bytes).
 */
async function corruptingProxy(c: PgCluster, relfilePath: string): Promise<{ server: Server; port: number; flipped: () => boolean }> {
  let flipped = false;
  const server = createServer((client: Socket) => {
    const upstream = connect(join(c.socketDir, `.s.PGSQL.${c.port}`));
    client.pipe(upstream);
    let armed = false;
    const name = Buffer.from(`${relfilePath}\0`);
    upstream.on('data', (chunk: Buffer) => {
      if (!flipped) {
        // The member's tar header (its name comes first), then a byte 300 bytes into its data, in the
        // same chunk when it holds that much, else early in the next one.
        if (armed && chunk.length > 400) {
          chunk[300] ^= 0x01;
          flipped = true;
        } else if (!armed) {
          const h = chunk.indexOf(name);
          if (h >= 0 && h + 512 + 400 < chunk.length) {
            chunk[h + 512 + 300] ^= 0x01;
            flipped = true;
          } else if (h >= 0) armed = true;
        }
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, port, flipped: () => flipped };
}

/**
 * A proxy that flips one byte of WAL record data in the first XLogData message that starts a segment on
 * a replication connection (START_REPLICATION), 0x40 bytes into the segment: inside the record at the
 * backup's start LSN (the segment's long page header takes 0x28 bytes).
 */
async function walCorruptingProxy(c: PgCluster): Promise<{ server: Server; port: number; flipped: () => boolean }> {
  let flipped = false;
  const server = createServer((client: Socket) => {
    const upstream = connect(join(c.socketDir, `.s.PGSQL.${c.port}`));
    let replication = false;
    client.on('data', (b: Buffer) => {
      if (b.includes(Buffer.from('START_REPLICATION'))) replication = true;
      upstream.write(b);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (replication && !flipped) {
        for (let i = 0; i + 6 + 24 + 0x48 < chunk.length; i++) {
          if (chunk[i] !== 0x64 || chunk[i + 5] !== 0x77) continue;
          const dataStart = chunk.readBigUInt64BE(i + 6);
          if ((dataStart & 0xffffffn) !== 0n) continue;
          chunk[i + 6 + 24 + 0x40] ^= 0x10;
          flipped = true;
          break;
        }
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, flipped: () => flipped };
}

for (const major of [15, 16, 17, 18] as Major[]) {
  describe(`pg_basebackup --verify (${major})`, () => {
    let c: PgCluster;
    let work: string;
    let env: NodeJS.ProcessEnv;
    let seq = 0;
    const fresh = (what: string) => join(work, `${what}-${++seq}`);

    beforeAll(async () => {
      work = makeTempDir(`pgbb-live-verify${major}-`);
      mkdirSync(join(work, 'home'));
      env = clientEnv(join(work, 'home'));
      c = await PgCluster.start({ major, conf: major >= 17 ? { summarize_wal: 'on' } : {} });
      await c.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 30000) g; CHECKPOINT`);
    }, 120_000);
    afterAll(async () => {
      await c?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const cases: [string, string[]][] = major === 15 || major === 18
      ? [
          ['plain -X stream', ['-Xstream']],
          ['plain -X fetch with SHA256 checksums', ['-Xfetch', '--manifest-checksums=SHA256']],
          ['tar -X stream, client gzip', ['-Ft', '-Xstream', '-z']],
          ['tar -X fetch, client lz4', ['-Ft', '-Xfetch', '--compress=client-lz4']],
          ['tar -X fetch, server gzip', ['-Ft', '-Xfetch', '--compress=server-gzip:1']],
          ['plain, server gzip, -X stream', ['-Xstream', '--compress=server-gzip']],
          // -R edits postgresql.auto.conf after the members are recorded: the server's file is what is verified.
          ['plain -X stream -R', ['-Xstream', '-R']],
          ['tar -X fetch -R, server gzip (decompressed, edited, compressed again)', ['-Ft', '-Xfetch', '-R', '--compress=server-gzip:1']],
        ]
      : [['plain -X stream', ['-Xstream']], ['tar -X fetch, client zstd', ['-Ft', '-Xfetch', '--compress=client-zstd']]];
    for (const [name, args] of cases) {
      it(`${name}: verified, exit 0`, async () => {
        const d = fresh('ok');
        const r = await runBasebackup([...socketArgs(c), '-D', d, '-cfast', '--verify', '-v', ...args], { env });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toContain('pg_basebackup: backup verified');
        expect(JSON.parse(readFileSync(markerOf(d), 'utf8')).status).toBe('complete');
        rmSync(d, { recursive: true, force: true });
        rmSync(markerOf(d), { force: true });
      });
    }

    it('-D - -X fetch: verified on the way to stdout', async () => {
      const r = await runBasebackup([...socketArgs(c), '-D', '-', '-Ft', '-Xfetch', '-cfast', '--verify', '-v'], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain('pg_basebackup: backup verified');
      expect(r.stdout.length).toBeGreaterThan(1_000_000);
    });

    if (major >= 17) {
      it('incremental (-i): verified', async () => {
        const full = fresh('full');
        expect((await runBasebackup([...socketArgs(c), '-D', full, '-cfast'], { env })).status).toBe(0);
        await c.query("UPDATE t SET v = v || 'x' WHERE id % 50 = 0");
        const incr = fresh('incr');
        const r = await runBasebackup([...socketArgs(c), '-D', incr, '-cfast', '--verify', '-v', '-i', join(full, 'backup_manifest')], { env });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toContain('pg_basebackup: backup verified');
      });
    }

    for (const format of ['plain', 'tar'] as const) it(`${format}: a byte flipped between the server and the client: checksum mismatch, exit 1, failed marker, data kept`, async () => {
      const [row] = await c.query<{ path: string }>("SELECT pg_relation_filepath('t') AS path");
      const proxy = await corruptingProxy(c, row?.path as string);
      try {
        const d = fresh('corrupt');
        const r = await runBasebackup(['-h', '127.0.0.1', '-p', String(proxy.port), '-U', 'postgres', '-D', d, '-cfast', '-Xfetch', `-F${format[0]}`, '--verify'], { env });
        expect(proxy.flipped()).toBe(true);
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`pg_basebackup: error: checksum mismatch for file "${row?.path}" in archive "base.tar"\n`);
        const marker = JSON.parse(readFileSync(markerOf(d), 'utf8'));
        expect(marker.status).toBe('failed');
        expect(marker.error.code).toBe('PGBB_CHECKSUM');
        expect(existsSync(join(d, format === 'plain' ? 'PG_VERSION' : 'base.tar'))).toBe(true); // kept, as after a page checksum failure
        // Without --verify the same corruption goes unnoticed by the client.
        const d2 = fresh('unnoticed');
        const proxy2 = await corruptingProxy(c, row?.path as string);
        try {
          const r2 = await runBasebackup(['-h', '127.0.0.1', '-p', String(proxy2.port), '-U', 'postgres', '-D', d2, '-cfast', '-Xfetch', `-F${format[0]}`], { env });
          expect(proxy2.flipped()).toBe(true);
          expect(r2.status, r2.stderr).toBe(0);
        } finally {
          proxy2.server.close();
        }
      } finally {
        proxy.server.close();
      }
    });

    it('-X stream: a byte flipped inside the first WAL record on the replication connection fails the backup', async () => {
      const proxy = await walCorruptingProxy(c);
      try {
        const d = fresh('walcorrupt');
        const r = await runBasebackup(['-h', '127.0.0.1', '-p', String(proxy.port), '-U', 'postgres', '-D', d, '-cfast', '-Xstream', '--verify'], { env });
        expect(proxy.flipped()).toBe(true);
        expect(r.status).toBe(1);
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines[0]).toBe('pg_basebackup: error: WAL parsing failed for timeline 1');
        expect(lines[1]).toMatch(/^pg_basebackup: detail: (could not find a valid record after|error in WAL record at|incorrect resource manager data checksum)/);
        expect(JSON.parse(readFileSync(markerOf(d), 'utf8')).error.code).toBe('PGBB_CHECKSUM');
      } finally {
        proxy.server.close();
      }
    });

    it.skipIf(!haveStrace || major !== 18)('nothing in the target is opened for reading (strace; -N so that no fsync pass opens files)', async () => {
      for (const args of [['-Xstream'], ['-Ft', '-Xfetch']]) {
        const d = fresh('strace');
        const log = `${d}.strace`;
        const r = await runTool('strace', ['-f', '-qq', '-e', 'trace=open,openat,openat2', '-o', log, process.execPath, CLI, ...socketArgs(c), '-D', d, '-cfast', '-N', '--verify', ...args], { env });
        expect(r.status, r.stderr).toBe(0);
        const opens = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(`"${d}/`) || l.includes(`"${d}"`));
        expect(opens.length).toBeGreaterThan(args.includes('-Ft') ? 1 : 5);
        const reads = opens.filter((l) => /O_RDONLY|O_RDWR/.test(l) && !l.includes('O_DIRECTORY') && !l.includes('O_CREAT') && !/ = -1 /.test(l));
        expect(reads, reads.slice(0, 5).join('\n')).toEqual([]);
        expect(readdirSync(d).length).toBeGreaterThan(0);
      }
    });
  });
}
