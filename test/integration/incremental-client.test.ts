/**
 * Issue 11, client side: -i/--incremental uploads the old manifest (UPLOAD_MANIFEST) and takes an
 * incremental backup on PostgreSQL 17 and 18 with summarize_wal = on.  On 18, when PostgreSQL 18.6's
 * pg_combinebackup and pg_verifybackup are present, the chain is combined and verified with them.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster, makeTempDir, type Major } from '../support/pg-cluster.js';
import { clientEnv, parseBackupLabel, runBasebackup, runTool, socketArgs, systemTarList } from '../support/backup-helpers.js';

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
  });

  it('pg\'s version gate message, exit 1', async () => {
    const manifest = join(work, 'm');
    writeFileSync(manifest, '{}');
    const r = await runBasebackup(['-D', join(work, 'x'), '-i', manifest, ...socketArgs(c)], { env: clientEnv(work) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error: server does not support incremental backup');
  });
});
