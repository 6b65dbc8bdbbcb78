/**
 * Shared pieces of the -X stream / standby integration tests: a pgbench-style TPC-B workload driven
 * from Node (pgbench_accounts/tellers/branches/history made by SQL, transactions as fast as several
 * connections manage), its invariant, the comparison of streamed WAL with the server's own segments,
 * and small polling helpers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import type { PgCluster } from '../support/pg-cluster.js';

export const SEG = 16 * 1024 * 1024;

/** pgbench -i -s <scale> (fillfactor left at the default), in SQL. */
export async function createTpcb(c: PgCluster, scale = 1): Promise<void> {
  await c.query(`
    DROP TABLE IF EXISTS pgbench_history, pgbench_tellers, pgbench_accounts, pgbench_branches;
    CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int NOT NULL, filler char(88));
    CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance int NOT NULL, filler char(84));
    CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
    CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
    INSERT INTO pgbench_branches SELECT b, 0 FROM generate_series(1, ${scale}) b;
    INSERT INTO pgbench_tellers SELECT t, (t - 1) / 10 + 1, 0 FROM generate_series(1, ${10 * scale}) t;
    INSERT INTO pgbench_accounts SELECT a, (a - 1) / 100000 + 1, 0, '' FROM generate_series(1, ${100000 * scale}) a;`);
  await c.query('VACUUM ANALYZE pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history');
  await c.query('CHECKPOINT');
}

/** TPC-B transactions from `connections` clients until stop(); counts committed transactions. */
export class TpcbWorkload {
  committed = 0;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly clients: pg.Client[] = [];

  constructor(
    private readonly c: PgCluster,
    private readonly connections = 4,
    private readonly scale = 1,
  ) {}

  async start(): Promise<void> {
    for (let i = 0; i < this.connections; i++) {
      const client = new pg.Client(this.c.pgConfig());
      client.on('error', () => undefined);
      await client.connect();
      this.clients.push(client);
    }
    this.loops = this.clients.map((client, i) => this.loop(client, i));
  }

  private async loop(client: pg.Client, seed: number): Promise<void> {
    let x = seed * 7919 + 1;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return (x % n) + 1;
    };
    while (!this.stopped) {
      const aid = rnd(100000 * this.scale);
      const tid = rnd(10 * this.scale);
      const bid = rnd(this.scale);
      const delta = rnd(10001) - 5001;
      await client.query(`BEGIN;
        UPDATE pgbench_accounts SET abalance = abalance + ${delta} WHERE aid = ${aid};
        SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};
        UPDATE pgbench_tellers SET tbalance = tbalance + ${delta} WHERE tid = ${tid};
        UPDATE pgbench_branches SET bbalance = bbalance + ${delta} WHERE bid = ${bid};
        INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${tid}, ${bid}, ${aid}, ${delta}, CURRENT_TIMESTAMP);
        END;`);
      this.committed++;
    }
  }

  /** Wait until at least `n` more transactions committed. */
  async progress(n: number): Promise<void> {
    const target = this.committed + n;
    while (this.committed < target) await sleep(20);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    await Promise.all(this.clients.map((c) => c.end()));
  }
}

/** The TPC-B invariant: every balance table sums to the history's deltas.  Returns the history's row count. */
export async function checkTpcbInvariant(c: PgCluster): Promise<number> {
  const [r] = await c.query<{ a: string; t: string; b: string; h: string; n: string }>(`SELECT
    (SELECT sum(abalance) FROM pgbench_accounts)::text AS a,
    (SELECT sum(tbalance) FROM pgbench_tellers)::text AS t,
    (SELECT sum(bbalance) FROM pgbench_branches)::text AS b,
    (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::text AS h,
    (SELECT count(*) FROM pgbench_history)::text AS n`);
  expect(r).toBeDefined();
  expect({ a: r?.a, t: r?.t, b: r?.b }).toEqual({ a: r?.h, t: r?.h, b: r?.h });
  return Number(r?.n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `f` until it returns a value other than undefined, or fail after `ms`. */
export async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Slots of a server, by name. */
export async function slotNames(c: PgCluster): Promise<string[]> {
  const rows = await c.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots ORDER BY 1');
  return rows.map((r) => r.slot_name);
}

export function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * Streamed segments against the server's own pg_wal (read as root): each one byte for byte up to the
 * end LSN (complete segments entirely), and beyond it as far as WAL happened to arrive (the receiver
 * writes whole messages, so the last segment may even lie past the end LSN).  `segments` maps segment
 * file names to their bytes.  Returns how many segments up to the end LSN were complete.
 */
export function compareWithServerWal(server: PgCluster, segments: Map<string, Buffer>, endLsn: bigint): { complete: number } {
  let complete = 0;
  for (const [name, ours] of segments) {
    expect(ours.length, name).toBe(SEG);
    const segStart = (BigInt(`0x${name.slice(8, 16)}`) * 256n + BigInt(`0x${name.slice(16, 24)}`)) * BigInt(SEG);
    const needed = endLsn <= segStart ? 0 : endLsn - segStart >= BigInt(SEG) ? SEG : Number(endLsn - segStart);
    let received = SEG;
    while (received > 0 && ours[received - 1] === 0) received--;
    const upto = Math.max(needed, received);
    const theirs = readFileSync(join(server.dataDir, 'pg_wal', name));
    expect(ours.subarray(0, upto).equals(theirs.subarray(0, upto)), `${name}: first ${upto} bytes`).toBe(true);
    if (needed === SEG) complete++;
  }
  return { complete };
}
