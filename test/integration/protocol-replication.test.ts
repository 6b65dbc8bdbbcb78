/**
 * Replication commands and COPY streaming against real servers 15-18 (one cluster per major, started
 * in parallel), checked against the `pg` package as an independent oracle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerError } from '../../src/errors.js';
import { formatLsn } from '../../src/lsn.js';
import {
  createReplicationSlot,
  createReplicationSlotCommand,
  dropReplicationSlot,
  identifySystem,
  readReplicationSlot,
  retrieveDataDirCreatePerm,
  retrieveWalSegSize,
  showSetting,
  timelineHistory,
} from '../../src/protocol/commands.js';
import { PgConnection } from '../../src/protocol/connection.js';
import type { ConnectAttempt } from '../../src/protocol/types.js';
import { MAJORS, PgCluster, type Major } from '../support/pg-cluster.js';

const clusters = new Map<Major, PgCluster>();

beforeAll(async () => {
  const started = await Promise.all(MAJORS.map((major) => PgCluster.start({ major })));
  for (const c of started) clusters.set(c.major, c);
});

afterAll(async () => {
  await Promise.all([...clusters.values()].map((c) => c.destroy()));
});

function attempt(c: PgCluster, replication = true): ConnectAttempt {
  return {
    host: c.socketDir,
    port: c.port,
    isUnixSocket: true,
    user: 'postgres',
    database: replication ? 'replication' : 'postgres',
    replication: replication ? 'true' : undefined,
    fallbackApplicationName: 'pg_basebackup',
    sslMode: 'prefer',
    channelBinding: 'prefer',
    getPassword: async () => undefined,
  };
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  const cluster = () => clusters.get(major) as PgCluster;

  it('IDENTIFY_SYSTEM, SHOW wal_segment_size / data_directory_mode', async () => {
    const conn = await PgConnection.open(attempt(cluster()));
    expect(Math.floor(conn.serverVersionNum / 10000)).toBe(major);
    const sys = await identifySystem(conn);
    const [ctl] = await cluster().query<{ system_identifier: string; timeline_id: number }>(
      'SELECT system_identifier::text, timeline_id FROM pg_control_system(), pg_control_checkpoint()',
    );
    expect(sys.systemId).toBe(ctl?.system_identifier);
    expect(sys.timeline).toBe(ctl?.timeline_id);
    expect(sys.xlogPos).toBeGreaterThan(0n);
    expect(sys.dbName).toBeNull();
    expect(await retrieveWalSegSize(conn)).toBe(16 * 1024 * 1024);
    expect(await retrieveDataDirCreatePerm(conn)).toBe(0o700);
    expect(await showSetting(conn, 'integer_datetimes')).toBe('on');
    expect(conn.parameters.get('integer_datetimes')).toBe('on');
    await conn.close();
  });

  it('creates, reads and drops slots (temporary and permanent)', async () => {
    const conn = await PgConnection.open(attempt(cluster()));
    const created = await createReplicationSlot(conn, { name: 'pgbb_perm', temporary: false, reserveWal: true });
    expect(created.slotName).toBe('pgbb_perm');
    await createReplicationSlot(conn, { name: `pgbb_tmp_${conn.backendPid}`, temporary: true, reserveWal: true });
    const slots = await cluster().query<{ slot_name: string; temporary: boolean; restart_lsn: string | null }>(
      "SELECT slot_name, temporary, restart_lsn::text FROM pg_replication_slots WHERE slot_name LIKE 'pgbb_%' ORDER BY slot_name",
    );
    expect(slots.map((s) => [s.slot_name, s.temporary])).toEqual([
      ['pgbb_perm', false],
      [`pgbb_tmp_${conn.backendPid}`, true],
    ]);
    const info = await readReplicationSlot(conn, 'pgbb_perm');
    expect(info.slotType).toBe('physical');
    expect(info.restartLsn !== undefined && formatLsn(info.restartLsn)).toBe(slots[0]?.restart_lsn);
    await expect(readReplicationSlot(conn, 'pgbb_missing')).rejects.toThrow('replication slot "pgbb_missing" does not exist');

    const dup = await createReplicationSlot(conn, { name: 'pgbb_perm', temporary: false, reserveWal: true }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ServerError);
    expect((dup as ServerError).sqlState).toBe('42710');
    expect((dup as Error).message).toBe(
      `could not send replication command "${createReplicationSlotCommand(conn.serverVersionNum, { name: 'pgbb_perm', temporary: false, reserveWal: true })}": ERROR:  replication slot "pgbb_perm" already exists`,
    );

    await dropReplicationSlot(conn, 'pgbb_perm');
    await conn.close();
    // The temporary slot went away with its connection.
    const left = await cluster().query("SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'pgbb_%'");
    expect(left).toHaveLength(0);
  });

  it('TIMELINE_HISTORY of timeline 1 is a server error with pg_basebackup\'s prefix', async () => {
    const conn = await PgConnection.open(attempt(cluster()));
    const e = await timelineHistory(conn, 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ServerError);
    expect((e as Error).message).toMatch(/^could not send replication command "TIMELINE_HISTORY": ERROR: {2}could not open file "pg_wal\/00000001\.history"/);
    // Still usable after the error.
    expect((await identifySystem(conn)).timeline).toBe(1);
    await conn.close();
  });
});

describe('COPY streaming with a slow consumer', () => {
  it('keeps the receive queue bounded (socket paused) and delivers every byte', async () => {
    const c = clusters.get(17) as PgCluster;
    const conn = await PgConnection.open(attempt(c, false), { highWaterBytes: 1024 * 1024 });
    const rows = 200_000;
    let bytes = 0;
    let lines = 0;
    let n = 0;
    const kept: Buffer[] = [];
    for await (const ev of conn.query(`COPY (SELECT repeat('x', 1000) FROM generate_series(1, ${rows})) TO STDOUT`)) {
      if (ev.kind !== 'copyData') continue;
      bytes += ev.data.length;
      if (ev.data[ev.data.length - 1] === 0x0a) lines++;
      if (n < 50) kept.push(ev.data); // kept without copying: must not be overwritten later
      if (n === 0) {
        // Stop consuming until the receive queue has filled and the socket was paused: on a loaded machine
        // the server may be slower than the consumer, so a fixed delay does not guarantee a pause.
        const deadline = Date.now() + 30_000;
        while (conn.stats.pauses === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      }
      if (++n % 2000 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(lines).toBe(rows);
    expect(bytes).toBe(rows * 1001);
    expect(conn.stats.pauses).toBeGreaterThan(0);
    expect(conn.stats.maxQueuedBytes).toBeLessThan(2 * 1024 * 1024);
    for (const k of kept) expect(k.equals(Buffer.from(`${'x'.repeat(1000)}\n`))).toBe(true);
    await conn.close();
  });
});
