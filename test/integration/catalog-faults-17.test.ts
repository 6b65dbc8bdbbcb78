/**
 * Issue 14, faults and retention by age on PostgreSQL 17 (summarize_wal = on): a backup killed with
 * SIGKILL shows as ERROR and the next incremental backup takes a valid parent; a second backup while
 * one runs fails with the lock message; summarize_wal off gives a clear refusal; --keep-days by age
 * (times moved back in the markers) keeps what restores to any moment of the window.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, socketArgs } from '../support/backup-helpers.js';
import { PgCluster, makeTempDir } from '../support/pg-cluster.js';
import { backdate, CATALOG_CLI, runCatalog, showJson, takeBackup, type ShownBackup } from './catalog-support.js';

/** A RUNNING backup whose completion marker exists (the base backup has started). */
async function runningBackup(catalog: string, env: NodeJS.ProcessEnv): Promise<ShownBackup> {
  return waitFor('a RUNNING backup', async () =>
    (await showJson(catalog, env)).find((b) => b.status === 'RUNNING' && existsSync(join(catalog, 'backups', `${b.id}.pg-basebackup-status.json`))),
  );
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('pg-basebackup-catalog: faults and --keep-days (17)', () => {
  let c: PgCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let catalog: string;
  let full1: string;
  let killed: string;
  let termed: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    c = await PgCluster.start({ major: 17, conf: { summarize_wal: 'on' } });
    work = makeTempDir('pgbb-cat17-');
    env = clientEnv(work);
    catalog = join(work, 'catalog');
    await c.query("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
    const init = await runCatalog(['init', '-B', catalog, ...socketArgs(c)], { env });
    expect(init.status).toBe(0);
  }, 120_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** While `slow` runs: the lock refuses a second backup; then SIGKILL, and the backup reads ERROR. */
  async function killedWhileRunning(slow: ChildProcess): Promise<void> {
    const running = await runningBackup(catalog, env);
    killed = running.id;
    expect(running.kind).toBe('INCR');
    expect(running.parent).toBe(full1);

    const second = await runCatalog(['backup', '-B', catalog, '--full'], { env });
    expect(second.status).toBe(1);
    expect(second.stderr.split('\n')[0]).toBe(`pg-basebackup-catalog: error: catalog "${catalog}" is locked by process ${slow.pid}`);

    const exited = new Promise((r) => slow.once('exit', r));
    slow.kill('SIGKILL');
    await exited;
    const after = (await showJson(catalog, env)).find((b) => b.id === killed);
    expect(after?.status).toBe('ERROR');
    expect(after?.status_detail).toBe('interrupted: the backup process is gone');
  }

  it('a second backup while one runs: the lock message; SIGKILL: ERROR; the next incremental takes a valid parent', async () => {
    // No parent yet: a clear refusal, nothing recorded.
    const none = await runCatalog(['backup', '-B', catalog, '--incremental'], { env });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/^pg-basebackup-catalog: error: no valid backup of database system \d+ on timeline 1 to take an incremental backup from\npg-basebackup-catalog: hint: Take a full backup first \(backup --full\)\.\n$/);
    expect(await showJson(catalog, env)).toEqual([]);
    full1 = await takeBackup(catalog, '--full', env);
    await c.query("UPDATE t SET v = 'x' WHERE id % 10 = 0");
    // A slow backup (32 kB/s), killed while it runs.
    const slow = spawn(process.execPath, [CATALOG_CLI, 'backup', '-B', catalog, '--incremental', '-r', '32k'], { env, stdio: 'ignore' });
    child = slow;
    try {
      await killedWhileRunning(slow);
    } finally {
      if (slow.exitCode === null && slow.signalCode === null) slow.kill('SIGKILL');
      child = undefined;
    }

    // The lock left by the killed process is stale: the next backup takes it; its parent is the full backup.
    await c.query("UPDATE t SET v = 'y' WHERE id % 10 = 1");
    const incr = await takeBackup(catalog, '--incremental', env);
    const shown = await showJson(catalog, env);
    expect(shown.find((b) => b.id === incr)).toMatchObject({ kind: 'INCR', parent: full1, status: 'DONE' });
    expect(shown.find((b) => b.id === killed)?.status).toBe('ERROR');
    const v = await runCatalog(['validate', '-B', catalog, '--all'], { env });
    expect(v.stderr).toContain(`warning: backup ${killed} has status ERROR, not validated`);
    expect(v.status).toBe(0);
  }, 180_000);

  it('SIGTERM during a backup: it stops cleanly, exit 1, its directory is removed and it reads ERROR', async () => {
    const slow = spawn(process.execPath, [CATALOG_CLI, 'backup', '-B', catalog, '--incremental', '-r', '32k'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child = slow;
    let stderr = '';
    slow.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const running = await runningBackup(catalog, env);
    termed = running.id;
    try {
      const exited = new Promise<number | null>((r) => slow.once('close', (code) => r(code)));
      slow.kill('SIGTERM');
      expect(await exited).toBe(1);
    } finally {
      if (slow.exitCode === null && slow.signalCode === null) slow.kill('SIGKILL');
      child = undefined;
    }
    expect(stderr).toContain('pg-basebackup-catalog: error: interrupted by signal SIGTERM');
    const after = (await showJson(catalog, env)).find((b) => b.id === termed);
    expect(after?.status).toBe('ERROR');
    expect(after?.status_detail).toBe('failed: interrupted by signal SIGTERM');
    expect(existsSync(join(catalog, 'backups', termed))).toBe(false);
    expect(existsSync(join(catalog, 'lock'))).toBe(false);
  }, 120_000);

  it('summarize_wal off: --incremental is refused with a clear message, nothing is added', async () => {
    await c.query('ALTER SYSTEM SET summarize_wal = off');
    await c.query('SELECT pg_reload_conf()');
    try {
      const before = await showJson(catalog, env);
      const r = await runCatalog(['backup', '-B', catalog, '--incremental'], { env });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('pg-basebackup-catalog: error: incremental backups need WAL summarization, but summarize_wal is off on the server');
      expect(await showJson(catalog, env)).toEqual(before);
    } finally {
      await c.query('ALTER SYSTEM RESET summarize_wal');
      await c.query('SELECT pg_reload_conf()');
    }
  }, 60_000);

  it('--keep-days: the window plus the newest full backup before it stay; older chains go, with their failed runs', async () => {
    // full1 (10 days ago) <- killed (ERROR), incr1 <- termed (ERROR); full2 (5 days ago) <- incr2 (now).
    const list = await showJson(catalog, env);
    const incr1 = list.find((b) => b.kind === 'INCR' && b.status === 'OK')?.id as string;
    await c.query("UPDATE t SET v = 'z' WHERE id % 10 = 2");
    const full2 = await takeBackup(catalog, '--full', env);
    await c.query("UPDATE t SET v = 'w' WHERE id % 10 = 3");
    const incr2 = await takeBackup(catalog, '--incremental', env);
    for (const id of [full1, killed, incr1]) backdate(catalog, id, 10);
    backdate(catalog, full2, 5);
    expect((await showJson(catalog, env)).find((b) => b.id === incr2)?.parent).toBe(full2);

    // 7 days: full1's chain is needed to restore to 7 days ago (full2 is 5 days old): nothing goes.
    const seven = await runCatalog(['delete', '-B', catalog, '--expired', '--keep-days=7'], { env });
    expect(seven.status).toBe(0);
    expect(seven.stderr).toContain('no backup has expired');
    // 3 days: full2 is the newest full backup before the window; full1 and what depends on it go.
    const three = await runCatalog(['delete', '-B', catalog, '--expired', '--keep-days=3'], { env });
    expect(three.status).toBe(0);
    expect(three.stderr.match(/deleted backup \S+/g)).toEqual([termed, incr1, killed, full1].map((id) => `deleted backup ${id}`));
    expect((await showJson(catalog, env)).map((b) => [b.id, b.status])).toEqual([[incr2, 'DONE'], [full2, 'DONE']]);
    expect(existsSync(join(catalog, 'backups', killed))).toBe(false);
    expect(readdirSync(join(catalog, 'backups')).filter((n) => n.startsWith(full1))).toEqual([]);
  }, 120_000);
});
