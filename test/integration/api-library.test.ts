/**
 * The library API against a real server (PostgreSQL 18, TCP with SCRAM): baseBackup() with typed
 * options, events (callback and async iterator), a typed result equal to the completion marker, abort
 * through an AbortController, typed errors with pg's messages, `stdout` for pgdata '-', and the
 * package entry `import { baseBackup } from 'pg-basebackup'` in a separate process.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseBackup, ConnectionError, PgBasebackupError, toBackupOptions, UsageError, watchBaseBackup, type BackupEvent } from '../../src/index.js';
import { clientEnv, parseBackupLabel, runTool, systemTarList } from '../support/backup-helpers.js';
import { chownForServer, makeTempDir, PgCluster, REPO_ROOT } from '../support/pg-cluster.js';
import { expectServerClean, markerOf, readMarker, waitUntil } from './events-support.js';
import { MARKER_NAME } from '../../src/backup/completion-marker.js';

describe('library API (PostgreSQL 18)', () => {
  let c: PgCluster;
  let work: string;
  let tsDir: string;
  let seq = 0;
  const fresh = (what: string) => join(work, `${what}-${++seq}`);
  // Connection settings through the API, as -h/-p/-U would give them; PG* variables kept out.
  const conn = () => ({ host: '127.0.0.1', port: c.port, user: 'postgres' });
  const libpqEnv = () => clientEnv(join(work, 'home'));

  beforeAll(async () => {
    work = makeTempDir('pgbb-api18-');
    mkdirSync(join(work, 'home'));
    tsDir = join(work, 'ts-source');
    mkdirSync(tsDir);
    chownForServer(tsDir);
    c = await PgCluster.start({ major: 18, auth: 'scram-sha-256', conf: { autovacuum: 'off' } });
    await c.query(`CREATE TABLESPACE ts1 LOCATION '${tsDir}'`);
    await c.query(`CREATE TABLE t_main AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 20000) g;
      CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g; CHECKPOINT`);
  });

  afterAll(async () => {
    await c?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('baseBackup: typed result = completion marker = result event; events in order; messages to the logger', async () => {
    const d = fresh('plain');
    const mapped = fresh('ts');
    const events: BackupEvent[] = [];
    const info: string[] = [];
    const result = await baseBackup(
      { ...conn(), pgdata: d, checkpoint: 'fast', walMethod: 'stream', label: 'from the API', verbose: 1, tablespaceMappings: [{ oldDir: tsDir, newDir: mapped }] },
      { password: c.password, env: libpqEnv(), onEvent: (e) => events.push(e), logger: { info: (m) => info.push(m) } },
    );
    const label = parseBackupLabel(readFileSync(join(d, 'backup_label'), 'utf8'));
    expect(label.get('START WAL LOCATION')).toBe(`${result.startLsn} (file ${result.walStart})`);
    expect(info).toContain(`write-ahead log end point: ${result.endLsn}`);
    expect(info.at(-1)).toBe('base backup completed');
    expect(result).toMatchObject({
      target: realpathSync(d),
      label: 'from the API',
      format: 'plain',
      walMethod: 'stream',
      timeline: 1,
      manifest: true,
      tablespaces: [{ location: tsDir, mappedLocation: mapped }],
    });
    expect(result.serverVersion).toMatch(/^18\./);
    expect(result.record).toEqual(readMarker(d));
    const resultEvent = events.find((e) => e.event === 'result');
    expect(resultEvent).toMatchObject({ ...result.record });
    expect(events.filter((e) => e.event === 'phase').map((e) => (e.event === 'phase' ? e.phase : ''))).toEqual([
      'connecting', 'checkpoint', 'streaming', 'streaming', 'wal', 'syncing', 'done',
    ]);
  });

  it('watchBaseBackup: the same events through an async iterator, ending after the result', async () => {
    const d = fresh('tar');
    const passwordAsked: string[] = [];
    const w = watchBaseBackup(
      { ...conn(), pgdata: d, format: 'tar', walMethod: 'fetch', checkpoint: 'fast', compression: 'gzip' },
      { env: libpqEnv(), password: (prompt) => (passwordAsked.push(prompt), c.password) },
    );
    const seen: string[] = [];
    for await (const e of w.events) seen.push(e.event === 'phase' ? e.phase : e.event);
    const result = await w.result;
    expect(seen.at(-2)).toBe('result');
    expect(seen.at(-1)).toBe('done');
    expect(seen.filter((s) => s === 'progress').length).toBeGreaterThan(0);
    expect(passwordAsked).toEqual(['Password: ']);
    expect(result.record).toEqual(readMarker(d));
    expect(existsSync(join(d, 'base.tar.gz'))).toBe(true);
  });

  it('abort through an AbortController: PGBB_ABORTED, files removed, the server clean', async () => {
    const d = fresh('aborted');
    const ac = new AbortController();
    const events: BackupEvent[] = [];
    const p = baseBackup(
      { ...conn(), pgdata: d, checkpoint: 'fast', maxRate: '32k', walMethod: 'stream', tablespaceMappings: [`${tsDir}=${fresh('ts')}`] },
      { password: c.password, env: libpqEnv(), signal: ac.signal, onEvent: (e) => events.push(e) },
    );
    p.catch(() => undefined);
    await waitUntil('data to arrive', () => events.some((e) => e.event === 'progress' && e.bytes_done > 0));
    ac.abort();
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PgBasebackupError);
    expect(err).toMatchObject({ code: 'PGBB_ABORTED', message: 'backup aborted' });
    expect(events.at(-1)).toMatchObject({ event: 'error', code: 'PGBB_ABORTED' });
    expect(existsSync(d)).toBe(false);
    await expectServerClean(c);

    // A signal that has already fired: nothing is even attempted.
    const d2 = fresh('pre-aborted');
    const reason = new Error('shutting down');
    const e2 = await baseBackup({ ...conn(), pgdata: d2 }, { password: c.password, env: libpqEnv(), signal: AbortSignal.abort(reason) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(e2).toMatchObject({ code: 'PGBB_ABORTED', cause: reason });
    expect(existsSync(d2)).toBe(false);
  });

  it("typed errors with stable codes and pg's messages", async () => {
    const usage = (o: Parameters<typeof toBackupOptions>[0]) => {
      try {
        toBackupOptions(o);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(usage({})).toMatchObject({ code: 'PGBB_USAGE', message: 'must specify output directory or backup target' });
    expect(usage({ pgdata: 'x', createSlot: true })).toMatchObject({ message: '--create-slot needs a slot to be specified using --slot' });
    expect(usage({ pgdata: 'x', maxRate: 'fast' })).toMatchObject({ message: 'transfer rate "fast" is not a valid value' });
    expect(usage({ pgdata: 'x', compression: 'gzip' })).toMatchObject({ message: 'only tar mode backups can be compressed' });
    expect(usage({ pgdata: 'x', tablespaceMappings: ['relative=/abs'] })).toBeInstanceOf(UsageError);
    expect(toBackupOptions({ pgdata: 'x', maxRate: 64, walMethod: 's', format: 't' })).toMatchObject({ maxRate: 64, walMethod: 'stream', format: 'tar' });

    // No password and no way to ask for one: libpq's message.
    const d = fresh('no-password');
    const err = await baseBackup({ ...conn(), pgdata: d }, { env: libpqEnv() }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'PGBB_CONNECTION' });
    expect((err as Error).message).toContain('fe_sendauth: no password supplied');
    expect(existsSync(d)).toBe(false);

    // A server error reaches the caller with its SQLSTATE on the cause.
    const d2 = fresh('no-slot');
    const e2 = await baseBackup(
      { ...conn(), pgdata: d2, slot: 'nonexistent', checkpoint: 'fast', maxRate: '1M', tablespaceMappings: [`${tsDir}=${fresh('ts')}`] },
      { password: c.password, env: libpqEnv() },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(e2).toMatchObject({ code: 'PGBB_WAL_RECEIVER', message: 'background process terminated unexpectedly', cause: { sqlState: '42704' } });
  });

  it("the package entry: import { baseBackup } from 'pg-basebackup' in a plain Node program", async () => {
    const d = fresh('entry');
    const script = join(work, 'program.mjs');
    writeFileSync(
      script,
      `import { baseBackup } from 'pg-basebackup';
       const r = await baseBackup({ host: '127.0.0.1', port: ${c.port}, user: 'postgres', pgdata: process.env.BACKUP_DIR, format: 'tar', checkpoint: 'fast' },
                                  { password: process.env.BACKUP_PASSWORD });
       console.log(JSON.stringify({ endLsn: r.endLsn, target: r.target }));`,
    );
    // Resolved as the package itself (self-reference through package.json "exports"), from the repository.
    const r = await runTool(process.execPath, ['--input-type=module', '-e', readFileSync(script, 'utf8')], {
      env: { ...libpqEnv(), BACKUP_PASSWORD: c.password, BACKUP_DIR: d },
      cwd: REPO_ROOT,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // the library prints nothing
    const out = JSON.parse(r.stdout.toString()) as { endLsn: string; target: string };
    expect(out.target).toBe(realpathSync(d));
    expect(readMarker(d)['end_lsn']).toBe(out.endLsn);
    expect(existsSync(markerOf(d))).toBe(true);
    expect(readdirSync(d)).not.toContain(MARKER_NAME);
  });

  it("pgdata '-': the tar goes to control.stdout, with the manifest inside; no marker (last: drops the tablespace)", async () => {
    const chunks: Buffer[] = [];
    const stdout = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    await c.query('DROP TABLE t_ts');
    await c.query('DROP TABLESPACE ts1'); // one tablespace only on stdout (the last test)
    const result = await baseBackup({ ...conn(), pgdata: '-', format: 'tar', walMethod: 'fetch', checkpoint: 'fast' }, { password: c.password, env: libpqEnv(), stdout });
    expect(result.target).toBeNull();
    const names = await systemTarList(Buffer.concat(chunks));
    expect(names.at(-1)).toBe('backup_manifest');
    expect(names).toContain('backup_label');
    expect(names).not.toContain(MARKER_NAME);
  });
});
