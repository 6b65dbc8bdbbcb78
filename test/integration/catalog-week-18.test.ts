/**
 * Issue 14: a week of backups in fast motion on PostgreSQL 18 (summarize_wal = on): full,
 * incrementals with load between them, another full and its incrementals.  show (text and JSON),
 * validate --all, a flipped byte (CORRUPT, children ORPHAN), restore of the newest and of a middle
 * backup into servers that hold the source's data as of each backup's end, delete refusals and
 * retention --keep-full=1.  When PostgreSQL 18.6's tools are in /opt/pg18/bin, its pg_verifybackup
 * and pg_combinebackup accept the catalog's backups as they are (skipped by name otherwise).
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, runTool, socketArgs, tableDigests } from '../support/backup-helpers.js';
import { PgCluster, makeTempDir } from '../support/pg-cluster.js';
import { runCatalog, showJson, takeBackup } from './catalog-support.js';

const TABLES = [{ database: 'postgres', table: 't' }];
const PG18 = '/opt/pg18/bin';
const havePg18Tools = existsSync(join(PG18, 'pg_combinebackup')) && existsSync(join(PG18, 'pg_verifybackup'));

/** The largest INCREMENTAL.* file of a backup (a relation file holding changed blocks). */
function anIncrementalFile(dir: string): string {
  let best: { path: string; size: number } | undefined;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.startsWith('INCREMENTAL.')) {
        const size = statSync(p).size;
        if (!best || size > best.size) best = { path: p, size };
      }
    }
  };
  walk(join(dir, 'base'));
  if (!best) throw new Error(`no INCREMENTAL.* file in ${dir}`);
  return best.path;
}

describe('pg-basebackup-catalog: a week in fast motion (18)', () => {
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let catalog: string;
  const ids: string[] = [];
  const digests = new Map<string, Record<string, string>>();
  const restored: PgCluster[] = [];

  beforeAll(async () => {
    c = await PgCluster.start({ major: 18, conf: { summarize_wal: 'on' } });
    work = makeTempDir('pgbb-cat18-');
    env = clientEnv(work);
    catalog = join(work, 'catalog');
    await c.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await c.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
  }, 120_000);
  afterAll(async () => {
    for (const r of restored) await r.destroy();
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function load(day: number): Promise<void> {
    await c.query(`UPDATE t SET v = v || '${day}' WHERE id % 50 = ${day}`);
    await c.query(`INSERT INTO t SELECT g, 'day ${day}' FROM generate_series(${20000 + day * 1000 + 1}, ${20000 + day * 1000 + 500}) g`);
    await c.query(`DELETE FROM t WHERE id % 997 = ${day}`);
  }

  async function backup(mode: '--full' | '--incremental'): Promise<string> {
    const id = await takeBackup(catalog, mode, env);
    ids.push(id);
    digests.set(id, await tableDigests(c, TABLES));
    return id;
  }

  it('init, then full, 2 incrementals, full, 2 incrementals; show lists them with explicit parents', async () => {
    const init = await runCatalog(['init', '-B', catalog, ...socketArgs(c)], { env });
    expect(init.stderr).toContain(`catalog "${catalog}" created`);
    expect(init.status).toBe(0);
    const modes = ['--full', '--incremental', '--incremental', '--full', '--incremental', '--incremental'] as const;
    for (const [day, mode] of modes.entries()) {
      if (day > 0) await load(day);
      await backup(mode);
    }
    expect(new Set(ids).size).toBe(6);
    expect([...ids].sort()).toEqual(ids); // IDs sort by time

    const shown = await showJson(catalog, env);
    expect(shown.map((b) => b.id)).toEqual([...ids].reverse()); // newest first
    const byId = new Map(shown.map((b) => [b.id, b]));
    const [f1, i1, i2, f2, i3, i4] = ids as [string, string, string, string, string, string];
    expect([f1, i1, i2, f2, i3, i4].map((id) => [byId.get(id)?.kind, byId.get(id)?.parent])).toEqual([
      ['FULL', null], ['INCR', f1], ['INCR', i1], ['FULL', null], ['INCR', f2], ['INCR', i3],
    ]);
    for (const b of shown) {
      expect(b.status).toBe('DONE');
      expect(b.timeline).toBe(1);
      expect(b.start_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(b.end_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(b.bytes).toBeGreaterThan(0);
      expect(Date.parse(b.finished_at as string)).toBeGreaterThanOrEqual(Date.parse(b.started_at));
    }
    // The parent link as the marker records it: the parent manifest's checksum.
    const parentManifest = readFileSync(join(catalog, 'backups', i1, 'backup_manifest'), 'utf8');
    expect(byId.get(i2)?.parent_manifest_checksum).toBe(/"Manifest-Checksum": "([0-9a-f]{64})"/.exec(parentManifest)?.[1]);
    expect(byId.get(f2)?.parent_manifest_checksum).toBeNull();
    // Each incremental's backup_label points at its parent's start.
    const label = readFileSync(join(catalog, 'backups', i2, 'backup_label'), 'utf8');
    expect(label).toContain(`INCREMENTAL FROM LSN: ${byId.get(i1)?.start_lsn}\n`);

    const text = await runCatalog(['show', '-B', catalog], { env });
    expect(text.status).toBe(0);
    const lines = text.stdout.toString('utf8').split('\n');
    expect(lines[1]).toMatch(/^ID\s+Kind\s+Parent\s+Started \(UTC\)\s+Finished \(UTC\)\s+Start LSN\s+End LSN\s+TLI\s+Size\s+Status$/);
    const rows = lines.filter((l) => /^\d{8}T/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual([...ids].reverse());
    expect(rows[0]).toMatch(new RegExp(`^${i4}\\s+INCR\\s+${i3}\\s.*\\sDONE$`));
    expect(rows[5]).toMatch(new RegExp(`^${f1}\\s+FULL\\s+-\\s.*\\sDONE$`));

    const one = await runCatalog(['show', '-B', catalog, i3], { env });
    expect(one.stdout.toString()).toContain(`Parent:`);
    expect(one.stdout.toString()).toMatch(new RegExp(`Parent:\\s+${f2}\\n`));
    const oneJson = await runCatalog(['show', '-B', catalog, i3, '--json'], { env });
    expect((JSON.parse(oneJson.stdout.toString()) as unknown[]).length).toBe(1);
  }, 240_000);

  it('validate (the backups not validated yet): every backup OK; then nothing left to validate', async () => {
    const r = await runCatalog(['validate', '-B', catalog], { env });
    expect(r.stderr).not.toContain('error');
    expect(r.stderr.match(/backup \S+: OK/g)).toEqual(ids.map((id) => `backup ${id}: OK`));
    expect(r.status).toBe(0);
    expect((await showJson(catalog, env)).map((b) => b.status)).toEqual(Array(6).fill('OK'));
    const again = await runCatalog(['validate', '-B', catalog], { env });
    expect(again.stderr).toBe('pg-basebackup-catalog: no backup to validate\n');
    expect(again.status).toBe(0);
  }, 120_000);

  it.skipIf(!havePg18Tools)('PostgreSQL 18\'s own pg_verifybackup accepts every backup of the catalog, its pg_combinebackup a chain', async () => {
    for (const id of ids) {
      const v = await runTool(join(PG18, 'pg_verifybackup'), [join(catalog, 'backups', id)], { env });
      expect(v.stderr).toBe('');
      expect(v.status).toBe(0);
    }
    const out = join(work, 'pg-combined');
    const cb = await runTool(join(PG18, 'pg_combinebackup'), ['-o', out, ...ids.slice(3).map((id) => join(catalog, 'backups', id))], { env });
    expect(cb.stderr).toBe('');
    expect(cb.status).toBe(0);
    rmSync(out, { recursive: true, force: true });
  }, 120_000);

  it('restore of the newest and of a middle backup: servers start and hold the data as of each backup', async () => {
    // The newest as "latest".
    for (const [arg, id] of [['latest', ids[5] as string], [ids[1] as string, ids[1] as string]]) {
      const target = join(work, `restored-${id}`);
      const r = await runCatalog(['restore', '-B', catalog, arg as string, '-D', target], { env });
      expect(r.stderr).toContain(`restored directory "${target}" verified`);
      expect(r.stderr).toContain(`backup ${id} restored into "${target}"`);
      expect(r.status).toBe(0);
      const s = await PgCluster.startOnDataDir(18, target);
      restored.push(s);
      expect(await tableDigests(s, TABLES)).toEqual(digests.get(id));
      await s.stop();
    }
  }, 180_000);

  it('a byte flipped in an incremental: it is CORRUPT, its child ORPHAN, the rest OK; restore refused', async () => {
    const [f1, i1, i2, f2, i3, i4] = ids as [string, string, string, string, string, string];
    const victim = anIncrementalFile(join(catalog, 'backups', i1));
    const bytes = readFileSync(victim);
    const at = bytes.length - 100;
    bytes[at] = (bytes[at] as number) ^ 0xff;
    writeFileSync(victim, bytes);
    const r = await runCatalog(['validate', '-B', catalog, '--all'], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: backup ${i1}: CORRUPT`);
    expect(r.stderr).toContain(`error: backup ${i2}: ORPHAN`);
    expect(r.stderr).toContain('2 backups failed validation');
    const st = new Map((await showJson(catalog, env)).map((b) => [b.id, b.status]));
    expect([f1, i1, i2, f2, i3, i4].map((id) => st.get(id))).toEqual(['OK', 'CORRUPT', 'ORPHAN', 'OK', 'OK', 'OK']);
    const refused = await runCatalog(['restore', '-B', catalog, i2, '-D', join(work, 'never')], { env });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`error: backup ${i2} has status ORPHAN`);
    expect(existsSync(join(work, 'never'))).toBe(false);
  }, 120_000);

  it('delete refuses a parent without --cascade; --keep-full=1 deletes exactly the old full and its incrementals', async () => {
    const [f1, i1, i2, f2, i3, i4] = ids as [string, string, string, string, string, string];
    const refused = await runCatalog(['delete', '-B', catalog, f2], { env });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`error: backup ${f2} is the parent of backups ${i3}, ${i4}`);
    const dry = await runCatalog(['delete', '-B', catalog, '--expired', '--keep-full=1', '--dry-run'], { env });
    expect(dry.status).toBe(0);
    expect(dry.stderr.match(/would delete backup \S+/g)).toEqual([i2, i1, f1].map((id) => `would delete backup ${id}`));
    expect((await showJson(catalog, env)).length).toBe(6);
    const r = await runCatalog(['delete', '-B', catalog, '--expired', '--keep-full=1'], { env });
    expect(r.status).toBe(0);
    expect(r.stderr.match(/deleted backup \S+/g)).toEqual([i2, i1, f1].map((id) => `deleted backup ${id}`));
    expect((await showJson(catalog, env)).map((b) => b.id)).toEqual([i4, i3, f2]);
    expect(readdirSync(join(catalog, 'backups')).sort()).toEqual(
      [f2, i3, i4].flatMap((id) => [id, `${id}.catalog.json`, `${id}.pg-basebackup-status.json`]).sort(),
    );
  }, 60_000);
});
