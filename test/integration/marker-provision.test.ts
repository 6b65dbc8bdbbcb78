/**
 * The README's provisioning flow on PostgreSQL 18: `-R -C -S` in the background while a watcher polls
 * pg-basebackup-status until it exits 0; the standby starts with the marker in its data directory and
 * streams through the slot; a backup of that standby gets its own marker (the standby's is dropped in
 * plain format, kept as a foreign file inside base.tar).
 */
import { mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, extractTar, runBasebackup, runTool, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';
import { MARKER_NAME } from '../../src/backup/completion-marker.js';
import { readMarker, startBackup, statusOf, waitUntil } from './events-support.js';

describe('provisioning a standby and waiting on the marker (PostgreSQL 18)', () => {
  let primary: PgCluster;
  let standby: PgCluster | undefined;
  let work: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    work = makeTempDir('pgbb-provision18-');
    mkdirSync(join(work, 'home'));
    env = clientEnv(join(work, 'home'));
    primary = await PgCluster.start({ major: 18, conf: { autovacuum: 'off' } });
    await primary.query('CREATE TABLE t AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 20000) g');
  });

  afterAll(async () => {
    await standby?.destroy();
    await primary?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('-R -C -S, watched with pg-basebackup-status; then a backup of the standby', async () => {
    const dir = join(work, 'standby1');
    const run = startBackup([...socketArgs(primary), '-D', dir, '-R', '-C', '-S', 'standby1', '-X', 'stream', '-c', 'fast', '-r', '4M'], env);
    const seen: string[] = [];
    await waitUntil(
      'pg-basebackup-status to say complete',
      async () => {
        const s = await statusOf(dir);
        const state = String(s.state['state']);
        if (seen.at(-1) !== state) seen.push(state);
        expect(s.code).toBe(state === 'complete' ? 0 : 1);
        return s.code === 0;
      },
      60_000,
      200,
    );
    const r = await run.exited;
    expect(r.status, r.stderr).toBe(0);
    expect(seen.filter((s) => s !== 'missing')).toEqual(['in progress', 'complete']);
    const provisioned = readMarker(dir);

    standby = await PgCluster.startOnDataDir(18, dir);
    const sb = standby;
    await waitUntil('the standby to stream through its slot', async () => (await primary.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'standby1' AND active")).length === 1);
    // The marker in a running standby's directory is still that directory's own.
    expect(await statusOf(dir)).toMatchObject({ code: 0, state: { state: 'complete' } });

    const plain = join(work, 'of-standby');
    const p = await runBasebackup([...socketArgs(sb), '-D', plain, '-X', 'stream', '-c', 'fast'], { env });
    expect(p.status, p.stderr).toBe(0);
    const ours = readMarker(plain);
    expect(ours['run_id']).not.toBe(provisioned['run_id']);
    expect(ours['target']).toBe(realpathSync(plain));
    expect(ours['server']).toMatchObject({ port: sb.port });

    const tar = join(work, 'of-standby-tar');
    const t = await runBasebackup([...socketArgs(sb), '-D', tar, '-Ft', '-X', 'fetch', '-c', 'fast'], { env });
    expect(t.status, t.stderr).toBe(0);
    // The provisioned data directory holds no marker of ours, so neither does a backup of it.
    const listed = await runTool('tar', ['-tf', join(tar, 'base.tar')]);
    expect(listed.stdout.toString().split('\n')).not.toContain(MARKER_NAME);
    expect(readMarker(tar)['run_id']).not.toBe(provisioned['run_id']);
    const x = join(work, 'extracted');
    mkdirSync(x);
    await extractTar(join(tar, 'base.tar'), x);
    expect(await statusOf(x)).toMatchObject({ code: 1, state: { state: 'missing' } });

    await standby.destroy();
    standby = undefined;
    await primary.query("SELECT pg_drop_replication_slot('standby1')");
  });
});
