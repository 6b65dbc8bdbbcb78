/**
 * startWalStreaming (pg's StartLogStreamer / LogStreamerMain) over scripted connections: the slot
 * (temporary, -C, -S, --no-slot) and the command order, the system identifier check reported through
 * onFailure, a failure while waiting for the last WAL, and (beyond pg) the -C slot dropped on failure.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackupEnvironment } from '../../../src/backup/base-backup.js';
import { startWalStreaming } from '../../../src/backup/wal-streaming.js';
import type { Logger } from '../../../src/log.js';
import { defaultBackupOptions, type BackupOptions } from '../../../src/options/backup-options.js';
import type { PgConnection } from '../../../src/protocol/connection.js';
import { copyBoth, copyDone, commandComplete, FakeWalConn, resultSet, S, SEG, settle, walBytes, xlogData, type Session } from './fake-wal-conn.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgbb-walstreaming-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const SYSID = '7300000000000000001';

/** A server: answers the replication commands; START_REPLICATION enters COPY and echoes CopyDone. */
function server(conn: FakeWalConn, sysid = SYSID): FakeWalConn {
  conn.onQuery = (s: Session) => {
    if (s.sql.startsWith('CREATE_REPLICATION_SLOT')) {
      const name = /"([^"]+)"/.exec(s.sql)?.[1] ?? '';
      s.push(...resultSet(['slot_name', 'consistent_point', 'snapshot_name', 'output_plugin'], [name, '0/3000028', '', ''], 'CREATE_REPLICATION_SLOT'));
      s.end();
    } else if (s.sql === 'IDENTIFY_SYSTEM') {
      s.push(...resultSet(['systemid', 'timeline', 'xlogpos', 'dbname'], [sysid, '1', '0/3000100', ''], 'IDENTIFY_SYSTEM'));
      s.end();
    } else if (s.sql.startsWith('START_REPLICATION')) {
      s.push(copyBoth);
    } else if (s.sql.startsWith('DROP_REPLICATION_SLOT')) {
      s.push(commandComplete('DROP_REPLICATION_SLOT'));
      s.end();
    }
  };
  conn.onCopyDone = (s) => {
    s.push(copyDone, commandComplete());
    s.end();
  };
  return conn;
}

/** `customize(conn, n)` may change the script of the n-th connection (0: streaming, 1: slot drop). */
function harness(options: Partial<BackupOptions>, sysid = SYSID, customize: (c: FakeWalConn, n: number) => void = () => undefined) {
  const conns: FakeWalConn[] = [];
  const log: string[] = [];
  const logger: Logger = {
    info: (m) => log.push(`info: ${m}`),
    error: (m) => log.push(`error: ${m}`),
    warning: (m) => log.push(`warning: ${m}`),
    notice: () => undefined,
    progress: () => undefined,
  };
  const env: BackupEnvironment = {
    logger,
    connect: async () => {
      const c = server(new FakeWalConn(), sysid);
      customize(c, conns.length);
      conns.push(c);
      return c as unknown as PgConnection;
    },
    stdout: new PassThrough(),
    stderrIsTty: false,
  };
  const o: BackupOptions = { ...defaultBackupOptions(), pgdata: dir, verbose: 1, ...options };
  const start = () =>
    startWalStreaming({
      options: o,
      env,
      startLsn: 3n * S + 0x28n,
      timeline: 1,
      systemId: SYSID,
      walSegSize: SEG,
      serverVersionNum: 180000,
      basedir: dir,
      fileMode: 0o600,
      dirMode: 0o700,
    });
  return { conns, log, start };
}

describe('startWalStreaming', () => {
  it('temporary slot named after the streaming connection, pg\'s command order, stops at the end position', async () => {
    const h = harness({});
    const wal = await h.start();
    expect(wal.slotName).toBe('pg_basebackup_4242');
    await settle();
    const c = h.conns[0] as FakeWalConn;
    expect(c.sql).toEqual([
      'CREATE_REPLICATION_SLOT "pg_basebackup_4242" TEMPORARY PHYSICAL ( RESERVE_WAL)',
      'IDENTIFY_SYSTEM',
      'START_REPLICATION SLOT "pg_basebackup_4242" 0/300000 TIMELINE 1',
    ]);
    expect(h.log).toEqual(['info: created temporary replication slot "pg_basebackup_4242"']);
    expect(statSync(join(dir, 'pg_wal', 'archive_status')).isDirectory()).toBe(true);
    expect(statSync(join(dir, 'pg_wal', 'summaries')).isDirectory()).toBe(true);
    expect(c.status[0]?.flush).toBe(3n * S); // a slot is used: the flush position is reported
    c.sessions.at(-1)?.push(xlogData(3n * S, walBytes(3n * S, 3n * S + 0x200n)));
    await wal.finish(3n * S + 0x200n);
    expect(c.closed).toBe(true);
    expect(statSync(join(dir, 'pg_wal', '000000010000000000000003')).size).toBe(SEG);
  });

  it('--no-slot: no slot, no flush position; -S alone: the slot is used, not created', async () => {
    const a = harness({ noSlot: true });
    const w1 = await a.start();
    await settle();
    expect(w1.slotName).toBeUndefined();
    expect(a.conns[0]?.sql).toEqual(['IDENTIFY_SYSTEM', 'START_REPLICATION 0/300000 TIMELINE 1']);
    expect(a.conns[0]?.status[0]?.flush).toBe(0n);
    await w1.abort();

    const b = harness({ slot: 'existing' });
    const w2 = await b.start();
    await settle();
    expect(b.conns[0]?.sql).toEqual(['IDENTIFY_SYSTEM', 'START_REPLICATION SLOT "existing" 0/300000 TIMELINE 1']);
    await w2.abort();
    expect(b.conns).toHaveLength(1); // nothing dropped
  });

  it('a system identifier mismatch fails the receiver, reported through onFailure', async () => {
    const h = harness({}, '1234');
    const wal = await h.start();
    const failure = await new Promise<unknown>((resolve) => wal.onFailure(resolve));
    expect((failure as Error).message).toBe('system identifier does not match between base backup and streaming connection');
    expect((wal.error as Error).message).toBe((failure as Error).message);
    // Registering after the failure still hears of it.
    expect(await new Promise<unknown>((resolve) => wal.onFailure(resolve))).toBe(failure);
    await wal.abort();
  });

  it('a failure while waiting for the last WAL: finish() rejects and the reason is logged (no onFailure)', async () => {
    const h = harness({});
    const wal = await h.start();
    let called = false;
    wal.onFailure(() => (called = true));
    await settle();
    const done = wal.finish(3n * S + 0x1000n);
    h.conns[0]?.sessions.at(-1)?.fail(new Error('disk full'));
    await expect(done).rejects.toThrow('disk full');
    expect(h.log).toContain('error: disk full');
    expect(called).toBe(false);
    await wal.abort();
    expect(h.log.filter((l) => l.startsWith('error:'))).toHaveLength(1);
  });

  it('beyond pg: -C creates the slot and drops it again when the backup fails, even after streaming finished', async () => {
    const h = harness({ slot: 's1', createSlot: true });
    const wal = await h.start();
    await settle();
    expect(h.conns[0]?.sql[0]).toBe('CREATE_REPLICATION_SLOT "s1" PHYSICAL ( RESERVE_WAL)');
    expect(h.log).toEqual(['info: created replication slot "s1"']);
    await wal.abort();
    expect(h.conns[0]?.destroyed).toBe(true);
    expect(h.conns[1]?.sql).toEqual(['DROP_REPLICATION_SLOT "s1" WAIT']);
    expect(h.log).toContain('info: dropped replication slot "s1"');

    const k = harness({ slot: 's2', createSlot: true });
    const w2 = await k.start();
    await settle();
    await w2.finish(3n * S);
    await w2.abort(); // a later failure (e.g. the manifest rename)
    expect(k.conns[1]?.sql).toEqual(['DROP_REPLICATION_SLOT "s2" WAIT']);
  });

  it('-C: a drop that fails is a warning, not a second error', async () => {
    const h = harness({ slot: 's3', createSlot: true }, SYSID, (c, n) => {
      if (n === 1) c.onQuery = (s) => s.fail(new Error('replication slot "s3" is active for PID 1'));
    });
    const wal = await h.start();
    await settle();
    await wal.abort();
    expect(h.log.filter((l) => l.startsWith('error:'))).toEqual([]);
    expect(h.log).toContain('warning: could not drop replication slot "s3": replication slot "s3" is active for PID 1');
  });
});
