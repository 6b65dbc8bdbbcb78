/**
 * Issue 14 on PostgreSQL 16 (no WAL summaries): a catalog of full backups.  --incremental is refused
 * with a clear message; validate; restore of a full backup (a copy) starts and holds the data as of
 * its end; restore -R makes a standby; bad input (unknown ID, not a catalog, a non-empty directory,
 * a corrupt record) is an error with exit 1 that changes nothing; delete of one backup.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, socketArgs, tableDigests } from '../support/backup-helpers.js';
import { PgCluster, makeTempDir } from '../support/pg-cluster.js';
import { runCatalog, showJson, takeBackup } from './catalog-support.js';

const TABLES = [{ database: 'postgres', table: 't' }];

describe('pg-basebackup-catalog: full backups only (16)', () => {
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let catalog: string;
  let full1: string;
  let full2: string;
  let digest1: Record<string, string>;
  const servers: PgCluster[] = [];

  beforeAll(async () => {
    c = await PgCluster.start({ major: 16 });
    work = makeTempDir('pgbb-cat16-');
    env = clientEnv(work);
    catalog = join(work, 'catalog');
    await c.query("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g");
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) await s.destroy();
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('init refuses a non-empty directory; full backups; --incremental refused; validate OK', async () => {
    const busy = join(work, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'x'), 'x');
    const refused = await runCatalog(['init', '-B', busy], { env });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`pg-basebackup-catalog: error: directory "${busy}" exists but is not empty`);
    expect(readdirSync(busy)).toEqual(['x']);

    expect((await runCatalog(['init', '-B', catalog, ...socketArgs(c)], { env })).status).toBe(0);
    const again = await runCatalog(['init', '-B', catalog], { env });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`error: catalog "${catalog}" already exists`);

    full1 = await takeBackup(catalog, '--full', env);
    digest1 = await tableDigests(c, TABLES);
    await c.query("UPDATE t SET v = 'changed' WHERE id % 3 = 0");
    const incr = await runCatalog(['backup', '-B', catalog, '--incremental'], { env });
    expect(incr.status).toBe(1);
    expect(incr.stderr).toMatch(/^pg-basebackup-catalog: error: incremental backups need PostgreSQL 17 or later, but the server's version is 16\.\d+\n/);
    expect((await showJson(catalog, env)).map((b) => b.id)).toEqual([full1]);
    full2 = await takeBackup(catalog, '--full', env);
    const v = await runCatalog(['validate', '-B', catalog, '--all'], { env });
    expect(v.status).toBe(0);
    expect(v.stderr).toContain(`backup ${full1}: OK`);
    expect((await showJson(catalog, env)).map((b) => [b.id, b.kind, b.parent, b.status])).toEqual([
      [full2, 'FULL', null, 'OK'],
      [full1, 'FULL', null, 'OK'],
    ]);
  }, 120_000);

  it('restore of a full backup: the server starts with the data as of its end; -R makes a standby', async () => {
    const target = join(work, 'r1');
    const r = await runCatalog(['restore', '-B', catalog, full1, '-D', target], { env });
    expect(r.stderr).toContain('verified');
    expect(r.status).toBe(0);
    const s = await PgCluster.startOnDataDir(16, target);
    servers.push(s);
    expect(await tableDigests(s, TABLES)).toEqual(digest1);
    await s.stop();

    const standby = join(work, 'r2');
    const r2 = await runCatalog(['restore', '-B', catalog, full2, '-D', standby, '-R'], { env });
    expect(r2.status).toBe(0);
    expect(existsSync(join(standby, 'standby.signal'))).toBe(true);
    const auto = readFileSync(join(standby, 'postgresql.auto.conf'), 'utf8');
    const conninfo = /^primary_conninfo = '(.*)'$/m.exec(auto)?.[1] ?? '';
    expect(conninfo).toContain(`host=''${c.socketDir}'' port=${c.port}`);
    expect(conninfo).toContain('user=postgres');
    const st = await PgCluster.startOnDataDir(16, standby);
    servers.push(st);
    expect(await st.query('SELECT pg_is_in_recovery() AS r')).toEqual([{ r: true }]);
    await st.stop();
  }, 120_000);

  it('bad input: unknown ID, not a catalog, a corrupt record: exit 1, nothing changed', async () => {
    const unknown = await runCatalog(['show', '-B', catalog, '20000101T000000Z'], { env });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe(`pg-basebackup-catalog: error: backup "20000101T000000Z" not found in catalog "${catalog}"\n`);
    const notCatalog = await runCatalog(['show', '-B', work], { env });
    expect(notCatalog.status).toBe(1);
    expect(notCatalog.stderr).toContain(`error: directory "${work}" is not a backup catalog`);

    const recordPath = join(catalog, 'backups', `${full1}.catalog.json`);
    const good = readFileSync(recordPath);
    writeFileSync(recordPath, '{"format_version": 1, "id": ');
    try {
      for (const args of [['show'], ['validate', '--all'], ['delete', full2], ['delete', '--expired', '--keep-full=1']]) {
        const r = await runCatalog([args[0] as string, '-B', catalog, ...args.slice(1)], { env });
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`pg-basebackup-catalog: error: file "${recordPath}" is not valid JSON\n`);
      }
      expect(existsSync(join(catalog, 'backups', full2))).toBe(true);
      expect(existsSync(join(catalog, 'lock'))).toBe(false);
    } finally {
      writeFileSync(recordPath, good);
    }
  }, 60_000);

  it('delete ID: the backup, its marker and record are gone; the other stays', async () => {
    const r = await runCatalog(['delete', '-B', catalog, full1], { env });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`deleted backup ${full1} (FULL, OK)`);
    expect((await showJson(catalog, env)).map((b) => b.id)).toEqual([full2]);
    expect(readdirSync(join(catalog, 'backups')).filter((n) => n.startsWith(full1))).toEqual([]);
  }, 60_000);

  it('--expire-after-backup applies the policy after each backup; an interrupted deletion reads ERROR and is finished', async () => {
    const cat2 = join(work, 'catalog2');
    expect((await runCatalog(['init', '-B', cat2, ...socketArgs(c), '--keep-full=1', '--expire-after-backup'], { env })).status).toBe(0);
    const a = await takeBackup(cat2, '--full', env);
    const second = await runCatalog(['backup', '-B', cat2, '--full'], { env });
    expect(second.status).toBe(0);
    const b = second.stdout.toString().trim();
    expect(second.stderr).toContain(`deleted backup ${a} (FULL, DONE)`);
    expect((await showJson(cat2, env)).map((x) => x.id)).toEqual([b]);

    // A deletion cut short after its record was marked and part of its files removed.
    const recordPath = join(cat2, 'backups', `${b}.catalog.json`);
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(recordPath, JSON.stringify({ ...record, deleting_since: '2026-12-04T00:00:00.000Z' }));
    rmSync(join(cat2, 'backups', b, 'base'), { recursive: true });
    const shown = await showJson(cat2, env);
    expect(shown.map((x) => [x.id, x.status, x.status_detail])).toEqual([[b, 'ERROR', 'deletion started at 2026-12-04T00:00:00.000Z did not finish']]);
    const refused = await runCatalog(['restore', '-B', cat2, b, '-D', join(work, 'never')], { env });
    expect(refused.status).toBe(1);
    const third = await runCatalog(['backup', '-B', cat2, '--full'], { env });
    expect(third.status).toBe(0);
    expect(third.stderr).toContain(`deleted backup ${b} (FULL, ERROR)`);
    expect((await showJson(cat2, env)).map((x) => [x.kind, x.status])).toEqual([['FULL', 'DONE']]);
  }, 120_000);
});
