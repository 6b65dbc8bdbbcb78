/**
 * Issue 11, pg_combinebackup: one source cluster per major (summarize_wal = on, tablespace ts1), a
 * chain full → incr1 → incr2 taken with our pg_basebackup -i, with load between the backups that
 * exercises reconstruction: an UPDATE/INSERT mix, a table VACUUM-truncated before incr1 and grown again
 * before incr2, CREATE DATABASE (WAL_LOG and FILE_COPY) and DROP DATABASE, a table in a tablespace.
 * Each combined backup starts and has the source's data at that incremental's end.  On 18, when
 * PostgreSQL 18.6's tools are in /opt/pg18, our output is compared byte for byte with pg's and
 * verified with pg_verifybackup (those tests are skipped by name otherwise).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeControlFile } from '../../src/pgdata/control-file.js';
import { crc32c, crc32cFinish, CRC32C_INIT } from '../../src/manifest/checksum.js';
import { PgCluster, REPO_ROOT, type Major } from '../support/pg-cluster.js';
import { listTree, runBasebackup, runTool, socketArgs, startTablespaceSource, tableDigests, type TableRef, type TablespaceSource } from '../support/backup-helpers.js';

export const COMBINE = join(REPO_ROOT, 'dist', 'bin', 'pg_combinebackup.mjs');
const PG18 = '/opt/pg18/bin';
export const havePg18Combine = existsSync(join(PG18, 'pg_combinebackup')) && existsSync(join(PG18, 'pg_verifybackup'));

export function runCombine(args: string[], env: NodeJS.ProcessEnv) {
  return runTool(process.execPath, [COMBINE, ...args], { env });
}

const TABLES: TableRef[] = [
  { database: 'postgres', table: 'accounts' },
  { database: 'postgres', table: 'history' },
  { database: 'postgres', table: 'shrink' },
  { database: 'postgres', table: 'spc' },
];

async function load(c: PgCluster, round: number): Promise<void> {
  // A pgbench-like mix: updates spread over the table, inserts at its end.
  await c.query(`UPDATE accounts SET abalance = abalance + ${round} WHERE id % 7 = ${round}`);
  await c.query(`INSERT INTO history (delta, mtime) SELECT g, now()::text FROM generate_series(1, 3000) g`);
  await c.query(`UPDATE spc SET v = v || '${round}' WHERE id % 5 = 0`);
  await c.query(`INSERT INTO accounts SELECT g, 0, repeat('n', 80) FROM generate_series(${round * 100000 + 1}, ${round * 100000 + 2000}) g`);
}

/** Rewrite a copy of pg_control with another system identifier (and a correct CRC). */
export function forgeOtherCluster(fromBackup: string, dir: string): void {
  mkdirSync(join(dir, 'global'), { recursive: true });
  const buf = readFileSync(join(fromBackup, 'global', 'pg_control'));
  const cf = decodeControlFile(buf);
  buf.writeBigUInt64LE(cf.systemIdentifier + 1n, 0);
  const at = cf.pgControlVersion === 1700 ? 288 : 292;
  buf.writeUInt32LE(crc32cFinish(crc32c(CRC32C_INIT, buf.subarray(0, at))), at);
  writeFileSync(join(dir, 'global', 'pg_control'), buf);
  cpSync(join(fromBackup, 'PG_VERSION'), join(dir, 'PG_VERSION'));
}

function firstIncrementalFile(dir: string): string | undefined {
  for (const db of readdirSync(join(dir, 'base'))) {
    const f = readdirSync(join(dir, 'base', db)).find((n) => n.startsWith('INCREMENTAL.') && !n.includes('_'));
    if (f !== undefined) return join(dir, 'base', db, f);
  }
  return undefined;
}

/** Files of two trees compared: same set of paths and types, same bytes for regular files. */
export function treeDifferences(a: string, b: string, skip: (rel: string) => boolean): string[] {
  const ta = listTree(a);
  const tb = listTree(b);
  const out: string[] = [];
  for (const [rel, ea] of ta) {
    if (skip(rel)) continue;
    const eb = tb.get(rel);
    if (eb === undefined) out.push(`only in ours: ${rel}`);
    else if (ea.type !== eb.type) out.push(`type differs: ${rel}`);
    else if (ea.type === 'file' && !readFileSync(ea.abs).equals(readFileSync(eb.abs))) out.push(`bytes differ: ${rel}`);
    else if (ea.type !== 'symlink' && ea.mode !== eb.mode) out.push(`mode differs: ${rel}`);
  }
  for (const rel of tb.keys()) if (!skip(rel) && !ta.has(rel)) out.push(`only in pg's: ${rel}`);
  return out;
}

/** A manifest with the run-dependent parts blanked: Last-Modified values and the manifest checksum. */
export function normalizedManifest(path: string): string {
  return readFileSync(path, 'utf8')
    .replace(/"Last-Modified": "[^"]*"/g, '"Last-Modified": "*"')
    .replace(/"Manifest-Checksum": "[0-9a-f]+"/, '"Manifest-Checksum": "*"');
}

export function combineSuite(major: Major): void {
  describe(`pg_combinebackup on a ${major} chain`, () => {
    let src: TablespaceSource;
    let c: PgCluster;
    let w: string;
    let env: NodeJS.ProcessEnv;
    const digests: Record<string, Record<string, string>> = {};
    const tsOf = (name: string) => join(w, `${name}-ts`);
    const backup = async (name: string, parent?: string) => {
      const args = ['-D', join(w, name), '-c', 'fast', '-T', `${src.tsDir}=${tsOf(name)}`, ...socketArgs(c)];
      if (parent !== undefined) args.push('-i', join(w, parent, 'backup_manifest'));
      const r = await runBasebackup(args, { env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    };

    const backupTar = async (name: string, extra: string[], parent?: string) => {
      const args = ['-D', join(w, name), '-Ft', '-c', 'fast', ...extra, ...socketArgs(c)];
      if (parent !== undefined) args.push('-i', join(w, parent, 'backup_manifest'));
      const r = await runBasebackup(args, { env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    };

    beforeAll(async () => {
      src = await startTablespaceSource(`pgbb-combine${major}-`, { major, conf: { summarize_wal: 'on' } });
      c = src.c;
      w = src.work;
      env = src.env;
      await c.query("CREATE TABLE accounts (id int PRIMARY KEY, abalance int, filler text) WITH (fillfactor = 90)");
      await c.query("INSERT INTO accounts SELECT g, 0, repeat('a', 80) FROM generate_series(1, 40000) g");
      await c.query('CREATE TABLE history (id bigserial PRIMARY KEY, delta int, mtime text)');
      await c.query("CREATE TABLE shrink (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off)");
      await c.query("INSERT INTO shrink SELECT g, repeat('s', 200) FROM generate_series(1, 20000) g");
      await c.query("CREATE TABLE spc (id int PRIMARY KEY, v text) TABLESPACE ts1");
      await c.query("INSERT INTO spc SELECT g, md5(g::text) FROM generate_series(1, 10000) g");
      // All-visible and frozen before the full backup, so that the VACUUM after the DELETE below leaves the
      // lower pages alone (a VACUUM right after the load may not yet see the rows as visible to all).
      for (let i = 0; i < 10; i++) {
        await c.query('VACUUM (FREEZE) shrink');
        const [v] = await c.query<{ ok: boolean }>("SELECT relallvisible = relpages AS ok FROM pg_class WHERE relname = 'shrink'");
        if (v?.ok === true) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await c.query('CREATE DATABASE dropme');
      await c.query("CHECKPOINT");
      await backup('full');
      // The same chain in tar format, compressed (beyond pg: combined without manual extraction).
      await backupTar('fullT', ['-z']);

      await load(c, 1);
      await c.query('DELETE FROM shrink WHERE id > 8000');
      await c.query('VACUUM shrink'); // truncates the relation
      await c.query('CREATE DATABASE copied STRATEGY FILE_COPY');
      await c.query('CREATE TABLE inco (id int PRIMARY KEY, v text)', { database: 'copied' });
      await c.query("INSERT INTO inco SELECT g, md5(g::text) FROM generate_series(1, 5000) g", { database: 'copied' });
      await c.query('CREATE DATABASE logged STRATEGY WAL_LOG');
      digests['incr1'] = await tableDigests(c, TABLES);
      await backup('incr1', 'full');
      await backupTar('incr1T', ['--compress=client-zstd'], 'fullT');

      await load(c, 2);
      await c.query("INSERT INTO shrink SELECT g, repeat('g', 200) FROM generate_series(100001, 130000) g"); // grows again
      await c.query('DROP DATABASE dropme');
      await c.query('CREATE DATABASE copied2 STRATEGY FILE_COPY TEMPLATE copied');
      await c.query("UPDATE inco SET v = 'changed' WHERE id < 100", { database: 'copied' });
      digests['incr2'] = await tableDigests(c, [...TABLES, { database: 'copied', table: 'inco' }, { database: 'copied2', table: 'inco' }]);
      await backup('incr2', 'incr1');
    }, 300_000);

    it('the chain exercises reconstruction: shrink is an INCREMENTAL file truncated below the full backup\'s length, then grown past it', async () => {
      const [row] = await c.query<{ p: string }>("SELECT pg_relation_filepath('shrink') AS p");
      const rel = row?.p as string;
      const slash = rel.lastIndexOf('/');
      const incrName = `${rel.slice(0, slash)}/INCREMENTAL.${rel.slice(slash + 1)}`;
      const fullBlocks = readFileSync(join(w, 'full', rel)).length / 8192;
      const tbl = (name: string) => readFileSync(join(w, name, incrName)).readUInt32LE(8);
      expect(tbl('incr1')).toBeLessThan(fullBlocks);
      const h2 = readFileSync(join(w, 'incr2', incrName));
      const blocks2 = Array.from({ length: h2.readUInt32LE(4) }, (_, i) => h2.readUInt32LE(12 + 4 * i));
      expect(Math.max(tbl('incr2'), ...blocks2.map((b) => b + 1))).toBeGreaterThan(fullBlocks);
    });
    afterAll(async () => {
      await src?.destroy();
    });

    for (const last of ['incr1', 'incr2'] as const) {
      it(`full + ... + ${last}: exit 0, no message, starts with the source's data at ${last}'s end`, async () => {
        const chain = last === 'incr1' ? ['full', 'incr1'] : ['full', 'incr1', 'incr2'];
        const out = join(w, `ours-${last}`);
        const outTs = join(w, `ours-${last}-ts`);
        const r = await runCombine(['-o', out, '-T', `${tsOf(last)}=${outTs}`, ...chain.map((n) => join(w, n))], env);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(existsSync(join(out, 'backup_manifest'))).toBe(true);
        expect(readFileSync(join(out, 'backup_label'), 'utf8')).not.toContain('INCREMENTAL');
        const marker = JSON.parse(readFileSync(`${out}.pg-basebackup-status.json`, 'utf8')) as Record<string, unknown>;
        expect(marker['status']).toBe('complete');
        expect(marker['command']).toBe('pg_combinebackup');
        const restored = await PgCluster.startOnDataDir(major, out, { extraOwned: [outTs] });
        try {
          const tables = last === 'incr1' ? TABLES : [...TABLES, { database: 'copied', table: 'inco' }, { database: 'copied2', table: 'inco' }];
          expect(await tableDigests(restored, tables)).toEqual(digests[last]);
          const dbs = (await restored.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname);
          expect(dbs.includes('dropme')).toBe(last === 'incr1');
          expect(dbs.includes('logged')).toBe(true);
        } finally {
          await restored.stop();
        }
      }, 180_000);
    }

    if (major === 18) it.skipIf(!havePg18Combine)('byte-identical to PostgreSQL 18\'s pg_combinebackup (every file, backup_label; manifest but for Last-Modified), pg_verifybackup accepts ours', async () => {
      const chain = ['full', 'incr1', 'incr2'].map((n) => join(w, n));
      const ours = join(w, 'cmp-ours');
      const theirs = join(w, 'cmp-pg');
      const r1 = await runCombine(['-o', ours, '-T', `${tsOf('incr2')}=${ours}-ts`, ...chain], env);
      expect(r1.stderr).toBe('');
      const r2 = await runTool(join(PG18, 'pg_combinebackup'), ['-o', theirs, '-T', `${tsOf('incr2')}=${theirs}-ts`, ...chain], { env });
      expect(r2.stderr).toBe('');
      expect(treeDifferences(ours, theirs, (rel) => rel === 'backup_manifest')).toEqual([]);
      expect(readFileSync(join(ours, 'backup_label')).equals(readFileSync(join(theirs, 'backup_label')))).toBe(true);
      expect(normalizedManifest(join(ours, 'backup_manifest'))).toBe(normalizedManifest(join(theirs, 'backup_manifest')));
      const vb = await runTool(join(PG18, 'pg_verifybackup'), [ours], { env });
      expect(vb.stderr).toBe('');
      expect(vb.status).toBe(0);
    }, 180_000);

    it('copy methods: --copy-file-range and --link give the same files as --copy (--link warns, links whole files); --clone as pg where reflinks are missing', async () => {
      const chain = ['full', 'incr1', 'incr2'].map((n) => join(w, n));
      const run = async (name: string, extra: string[]) => {
        const out = join(w, `m-${name}`);
        const r = await runCombine(['-o', out, '-T', `${tsOf('incr2')}=${out}-ts`, ...extra, ...chain], env);
        return { out, r };
      };
      const base = await run('copy', ['--copy']);
      expect(base.r.status).toBe(0);
      const same = (out: string) => treeDifferences(out, base.out, (rel) => rel === 'backup_manifest' || rel.startsWith('pg_tblspc/'));
      const cfr = await run('cfr', ['--copy-file-range']);
      expect(cfr.r.stderr).toBe('');
      expect(same(cfr.out)).toEqual([]);
      const link = await run('link', ['-k']);
      expect(link.r.stderr).toBe('pg_combinebackup: warning: --link mode was used; any modifications to the output directory might destructively modify input directories\n');
      expect(same(link.out)).toEqual([]);
      expect(statSync(join(link.out, 'PG_VERSION')).nlink).toBeGreaterThan(1);
      const clone = await run('clone', ['--clone']);
      if (clone.r.status !== 0) {
        expect(clone.r.stderr).toMatch(/^pg_combinebackup: error: error while cloning file "[^"]+" to "[^"]+": Operation not supported\npg_combinebackup: removing output directory "[^"]+"\n/);
        if (havePg18Combine && major === 18) {
          const p = await runTool(join(PG18, 'pg_combinebackup'), ['--clone', '-o', clone.out, '-T', `${tsOf('incr2')}=${clone.out}-ts`, ...chain], { env });
          expect(clone.r.stderr).toBe(p.stderr);
        }
      } else {
        expect(same(clone.out)).toEqual([]);
      }
      for (const d of [base.out, cfr.out, link.out, clone.out]) {
        rmSync(d, { recursive: true, force: true });
        rmSync(`${d}-ts`, { recursive: true, force: true });
      }
    }, 180_000);

    it('tar-format inputs (gzip and zstd): combined without manual extraction, -T names the server\'s location, the spool is removed', async () => {
      const out = join(w, 'from-tar');
      const outTs = join(w, 'from-tar-ts');
      const r = await runCombine(['-o', out, '-T', `${src.tsDir}=${outTs}`, join(w, 'fullT'), join(w, 'incr1T')], env);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(existsSync(`${out}.pg_combinebackup-spool`)).toBe(false);
      expect(existsSync(join(out, 'pg_wal'))).toBe(true);
      if (havePg18Combine && major === 18) {
        const vb = await runTool(join(PG18, 'pg_verifybackup'), [out], { env });
        expect(vb.stderr).toBe('');
        expect(vb.status).toBe(0);
      }
      const restored = await PgCluster.startOnDataDir(major, out, { extraOwned: [outTs] });
      try {
        expect(await tableDigests(restored, TABLES)).toEqual(digests['incr1']);
      } finally {
        await restored.stop();
      }
      const missing = await runCombine(['-o', join(w, 'from-tar2'), join(w, 'fullT'), join(w, 'incr1T')], env);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toBe(`pg_combinebackup: error: tablespace at "${src.tsDir}" has no tablespace mapping\n`);
      expect(existsSync(`${join(w, 'from-tar2')}.pg_combinebackup-spool`)).toBe(false);
    }, 180_000);

    describe('broken chains: pg\'s messages, exit 1, nothing left behind', () => {
      const cases: [string, () => string[], string][] = [
        ['full backup given last', () => ['incr1', 'full'], 'is a full backup, but only the first backup should be a full backup'],
        ['incremental given first', () => ['incr1', 'incr2'], 'is an incremental backup, but the first backup should be a full backup'],
        ['wrong order', () => ['full', 'incr2', 'incr1'], 'starts at LSN'],
        ['missing middle backup', () => ['full', 'incr2'], 'starts at LSN'],
      ];
      for (const [title, chain, text] of cases) {
        it(title, async () => {
          const out = join(w, 'broken');
          const r = await runCombine(['-o', out, '-T', `${tsOf('incr2')}=${out}-ts`, ...chain().map((n) => join(w, n))], env);
          expect(r.status).toBe(1);
          expect(r.stderr).toMatch(new RegExp(`^pg_combinebackup: error: backup at "[^"]+" .*${text}`));
          expect(existsSync(out)).toBe(false);
          if (havePg18Combine && major === 18) {
            const p = await runTool(join(PG18, 'pg_combinebackup'), ['-o', out, '-T', `${tsOf('incr2')}=${out}-ts`, ...chain().map((n) => join(w, n))], { env });
            expect(r.stderr).toBe(p.stderr);
          }
        });
      }

      it('another cluster\'s backup: expected system identifier', async () => {
        const other = join(w, 'other');
        forgeOtherCluster(join(w, 'full'), other);
        const r = await runCombine(['-o', join(w, 'broken'), other, join(w, 'incr1')], env);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/^pg_combinebackup: error: .*\/other\/global\/pg_control: expected system identifier \d+, but found \d+\n$/);
      });

      it('a corrupt INCREMENTAL file: bad magic number, the output directory is removed', async () => {
        const bad = join(w, 'incr1-bad');
        cpSync(join(w, 'incr1'), bad, { recursive: true, verbatimSymlinks: true });
        const f = firstIncrementalFile(bad) as string;
        const bytes = readFileSync(f);
        bytes.writeUInt32LE(0x12345678, 0);
        writeFileSync(f, bytes);
        const out = join(w, 'broken');
        const r = await runCombine(['-o', out, '-T', `${tsOf('incr1')}=${out}-ts`, join(w, 'full'), bad], env);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`pg_combinebackup: error: file "${f}" has bad incremental magic number (0x12345678, expected 0xd3ae1f0d)\n`);
        expect(r.stderr).toContain(`pg_combinebackup: removing output directory "${out}"\n`);
        expect(existsSync(out)).toBe(false);
        expect(existsSync(`${out}-ts`)).toBe(false);
        const marker = JSON.parse(readFileSync(`${out}.pg-basebackup-status.json`, 'utf8')) as Record<string, unknown>;
        expect(marker['status']).toBe('failed');
        if (havePg18Combine && major === 18) {
          const p = await runTool(join(PG18, 'pg_combinebackup'), ['-o', out, '-T', `${tsOf('incr1')}=${out}-ts`, join(w, 'full'), bad], { env });
          expect(r.stderr).toBe(p.stderr);
        }
        rmSync(bad, { recursive: true, force: true });
      });
    });
  });
}
