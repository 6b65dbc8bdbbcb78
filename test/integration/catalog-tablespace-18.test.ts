/**
 * Issue 14 with a tablespace (PostgreSQL 18, summarize_wal = on): the catalog maps each tablespace
 * into itself (<ID>.tblspc/<oid>), never writing at the server's path; validate follows it; restore
 * needs -T for it (given with the server's location) and the restored server holds the data; delete
 * removes the backup's tablespace copies too.
 */
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketArgs, startTablespaceSource, tableDigests, type TablespaceSource } from '../support/backup-helpers.js';
import { PgCluster } from '../support/pg-cluster.js';
import { runCatalog, showJson, takeBackup } from './catalog-support.js';

const TABLES = [{ database: 'postgres', table: 'ts_t' }, { database: 'postgres', table: 'main_t' }];

describe('pg-basebackup-catalog with a tablespace (18)', () => {
  let src: TablespaceSource;
  let catalog: string;
  let full: string;
  let incr: string;
  let digest: Record<string, string>;
  let digestFull: Record<string, string>;
  const servers: PgCluster[] = [];

  beforeAll(async () => {
    src = await startTablespaceSource('pgbb-cat18ts-', { major: 18, conf: { summarize_wal: 'on' } });
    await src.c.query("CREATE TABLE ts_t TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g");
    await src.c.query("CREATE TABLE main_t AS SELECT g AS id, g * 2 AS v FROM generate_series(1, 5000) g");
    catalog = join(src.work, 'catalog');
    expect((await runCatalog(['init', '-B', catalog, ...socketArgs(src.c)], { env: src.env })).status).toBe(0);
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) await s.destroy();
    await src?.destroy();
  });

  it('full and incremental backups hold the tablespace inside the catalog; validate OK', async () => {
    const before = readdirSync(src.tsDir);
    full = await takeBackup(catalog, '--full', src.env);
    digestFull = await tableDigests(src.c, TABLES);
    await src.c.query("UPDATE ts_t SET v = 'x' WHERE id % 7 = 0");
    await src.c.query('INSERT INTO main_t SELECT g, 0 FROM generate_series(5001, 6000) g');
    incr = await takeBackup(catalog, '--incremental', src.env);
    digest = await tableDigests(src.c, TABLES);
    expect(readdirSync(src.tsDir)).toEqual(before); // nothing written at the server's own path
    const [oid] = readdirSync(join(catalog, 'backups', `${incr}.tblspc`));
    expect(oid).toMatch(/^\d+$/);
    expect(readlinkSync(join(catalog, 'backups', incr, 'pg_tblspc', oid as string))).toBe(join(catalog, 'backups', `${incr}.tblspc`, oid as string));
    const v = await runCatalog(['validate', '-B', catalog, '--all'], { env: src.env });
    expect(v.stderr).not.toContain('error');
    expect(v.status).toBe(0);
  }, 180_000);

  it('restore needs -T for the tablespace; with it the server starts with the data', async () => {
    const target = join(src.work, 'restored');
    const noMap = await runCatalog(['restore', '-B', catalog, incr, '-D', target], { env: src.env });
    expect(noMap.status).toBe(1);
    expect(noMap.stderr).toContain(`has no tablespace mapping`);
    expect(noMap.stderr).toContain(`hint: Give its new location with -T "${src.tsDir}=NEWDIR".`);
    expect(existsSync(target)).toBe(false);

    const newTs = join(src.work, 'ts-restored');
    const r = await runCatalog(['restore', '-B', catalog, incr, '-D', target, '-T', `${src.tsDir}=${newTs}`], { env: src.env });
    expect(r.stderr).toContain('verified');
    expect(r.status).toBe(0);
    const s = await PgCluster.startOnDataDir(18, target, { extraOwned: [newTs] });
    servers.push(s);
    expect(await tableDigests(s, TABLES)).toEqual(digest);
    await s.stop();
  }, 180_000);

  it('restore of the full backup (a copy) with -T: the tablespace goes to its new place', async () => {
    const target = join(src.work, 'restored-full');
    const newTs = join(src.work, 'ts-restored-full');
    const r = await runCatalog(['restore', '-B', catalog, full, '-D', target, '-T', `${src.tsDir}=${newTs}`], { env: src.env });
    expect(r.stderr).toContain(`restoring full backup ${full}`);
    expect(r.status).toBe(0);
    const [oid] = readdirSync(join(target, 'pg_tblspc'));
    expect(readlinkSync(join(target, 'pg_tblspc', oid as string))).toBe(newTs);
    const s = await PgCluster.startOnDataDir(18, target, { extraOwned: [newTs] });
    servers.push(s);
    expect(await tableDigests(s, TABLES)).toEqual(digestFull);
    await s.stop();
  }, 180_000);

  it('delete --cascade removes the backups\' tablespace copies', async () => {
    const r = await runCatalog(['delete', '-B', catalog, full, '--cascade'], { env: src.env });
    expect(r.status).toBe(0);
    expect(await showJson(catalog, src.env)).toEqual([]);
    expect(readdirSync(join(catalog, 'backups'))).toEqual([]);
  }, 60_000);
});
