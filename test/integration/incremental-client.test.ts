/**
 * Issue 11, client side: -i/--incremental uploads the old manifest (UPLOAD_MANIFEST) and takes an
 * incremental backup on PostgreSQL 17 and 18 with summarize_wal = on.  On 18, when PostgreSQL 18.6's
 * pg_combinebackup and pg_verifybackup are present, the chain is combined and verified with them.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster, makeTempDir, type Major } from '../support/pg-cluster.js';
import { CLI, clientEnv, parseBackupLabel, runBasebackup, runTool, socketArgs, systemTarList } from '../support/backup-helpers.js';

const PG18 = '/opt/pg18/bin';
const havePg18Tools = existsSync(join(PG18, 'pg_combinebackup')) && existsSync(join(PG18, 'pg_verifybackup'));

function hasIncrementalFile(dir: string): boolean {
  const walk = (d: string): boolean =>
    readdirSync(d, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.startsWith('INCREMENTAL.')));
  return walk(join(dir, 'base'));
}

for (const major of [17, 18] as Major[]) {
  describe(`incremental backup client (${major})`, () => {
    let c: PgCluster;
    let work: string;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      c = await PgCluster.start({ major, conf: { summarize_wal: 'on' } });
      work = makeTempDir('pgbb-incr-');
      env = clientEnv(work);
      await c.query('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g');
    }, 120_000);
    afterAll(async () => {
      await c?.destroy();
      if (work) rmSync(work, { recursive: true, force: true }); // holds a 64 MiB manifest and three backups
    });

    it('full, then incremental: INCREMENTAL FROM in backup_label, INCREMENTAL.* files, exit 0', async () => {
      const full = join(work, 'full');
      const r1 = await runBasebackup(['-D', full, '-c', 'fast', ...socketArgs(c)], { env });
      expect(r1.stderr).toBe('');
      expect(r1.status).toBe(0);
      await c.query('UPDATE t SET v = v || \'x\' WHERE id % 100 = 0');
      await c.query('CREATE TABLE u AS SELECT g FROM generate_series(1, 1000) g');
      const incr = join(work, 'incr');
      const r2 = await runBasebackup(['-D', incr, '-c', 'fast', '-i', join(full, 'backup_manifest'), ...socketArgs(c)], { env });
      expect(r2.stderr).toBe('');
      expect(r2.status).toBe(0);
      const label = parseBackupLabel(readFileSync(join(incr, 'backup_label'), 'utf8'));
      expect(label.get('INCREMENTAL FROM LSN')).toBe(parseBackupLabel(readFileSync(join(full, 'backup_label'), 'utf8')).get('START WAL LOCATION')?.split(' ')[0]);
      expect(hasIncrementalFile(incr)).toBe(true);
      // The completion marker names the parent: backup_label's INCREMENTAL FROM lines and the parent manifest's checksum.
      const marker = (d: string) => JSON.parse(readFileSync(`${d}.pg-basebackup-status.json`, 'utf8'));
      expect(marker(full).incremental_from).toBeNull();
      const parentChecksum = /"Manifest-Checksum": "([0-9a-f]{64})"/.exec(readFileSync(join(full, 'backup_manifest'), 'utf8'))?.[1];
      expect(marker(incr).incremental_from).toEqual({
        lsn: label.get('INCREMENTAL FROM LSN'),
        timeline: Number(label.get('INCREMENTAL FROM TLI')),
        manifest_checksum: parentChecksum,
      });
      if (havePg18Tools && major === 18) { // pg_combinebackup reads only its own major's pg_control
        const out = join(work, 'combined');
        const cb = await runTool(join(PG18, 'pg_combinebackup'), ['-o', out, full, incr], { env });
        expect(cb.stderr).toBe('');
        expect(cb.status).toBe(0);
        const vb = await runTool(join(PG18, 'pg_verifybackup'), [out], { env });
        expect(vb.status).toBe(0);
      }
    }, 180_000);

    it('-Ft: the INCREMENTAL.* members pass through into base.tar', async () => {
      const tar = join(work, 'incr-tar');
      const r = await runBasebackup(['-D', tar, '-Ft', '-c', 'fast', '-i', join(work, 'full', 'backup_manifest'), ...socketArgs(c)], { env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const names = await systemTarList(join(tar, 'base.tar'));
      expect(names.some((n) => /^(\.\/)?base\/\d+\/INCREMENTAL\.\d+$/.test(n))).toBe(true);
    }, 180_000);

    it('a manifest that cannot be opened: pg\'s message, exit 1', async () => {
      const missing = join(work, 'no-such-manifest');
      const r = await runBasebackup(['-D', join(work, 'x1'), '-i', missing, ...socketArgs(c)], { env });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`error: could not open file "${missing}": No such file or directory`);
      expect(existsSync(join(work, 'x1'))).toBe(false);
    });

    it('a manifest the server rejects: "could not upload manifest:" with the server\'s text, exit 1', async () => {
      const bad = join(work, 'bad-manifest');
      writeFileSync(bad, '{"PostgreSQL-Backup-Manifest-Version": 2, "System-Identifier": 1, ');
      const r = await runBasebackup(['-D', join(work, 'x2'), '-i', bad, ...socketArgs(c)], { env });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/error: could not upload manifest: ERROR: {2}\S/);
      expect(existsSync(join(work, 'x2'))).toBe(false);
    });

    it.skipIf(!existsSync('/usr/bin/strace'))('an error the server sends mid-upload is reported at once: a 64 MiB manifest is not read to its end (strace)', async () => {
      // Another system's manifest: the server rejects it after parsing its first 128 kB.
      const big = join(work, 'big-manifest');
      const head = '{ "PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": 12345,\n"Files": [\n';
      const line = '{ "Path": "base/1/1234567", "Size": 8192, "Last-Modified": "2026-12-04 10:00:00 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "00000000" },\n';
      const body = Buffer.alloc(64 * 1024 * 1024, line);
      writeFileSync(big, Buffer.concat([Buffer.from(head), body]));
      const log = join(work, 'upload.strace');
      const r = await runTool('strace', ['-f', '-qq', '-e', 'trace=openat,read', '-o', log, process.execPath, CLI, '-D', join(work, 'x3'), '-i', big, ...socketArgs(c)], { env });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/error: could not upload manifest: ERROR: {2}system identifier in backup manifest is 12345, but database system identifier is \d+/);
      const trace = readFileSync(log, 'utf8').split('\n');
      const fd = /openat\(AT_FDCWD, "[^"]*big-manifest".* = (\d+)$/.exec(trace.find((l) => l.includes('big-manifest')) ?? '')?.[1];
      expect(fd).toBeDefined();
      const reads = trace.filter((l) => new RegExp(`read\\(${fd}, .*, 65536\\) = 65536`).test(l)).length;
      expect(reads).toBeGreaterThan(1);
      expect(reads).toBeLessThan(64); // of 1025 chunks in the file (3 or 4 measured)
      expect(existsSync(join(work, 'x3'))).toBe(false);
    });
  });
}

describe('incremental backup client: server 16 has no UPLOAD_MANIFEST', () => {
  let c: PgCluster;
  let work: string;
  beforeAll(async () => {
    c = await PgCluster.start({ major: 16 });
    work = makeTempDir('pgbb-incr16-');
  }, 120_000);
  afterAll(async () => {
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('pg\'s version gate message, exit 1', async () => {
    const manifest = join(work, 'm');
    writeFileSync(manifest, '{}');
    const r = await runBasebackup(['-D', join(work, 'x'), '-i', manifest, ...socketArgs(c)], { env: clientEnv(work) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error: server does not support incremental backup');
  });
});
