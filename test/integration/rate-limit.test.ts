/**
 * -r/--max-rate: sent as MAX_RATE (kB/s); the server throttles what it sends.  A backup of about
 * 100 MB with --max-rate=1M must take about 100 s: the rate is measured and printed, and asserted only
 * loosely (between half and twice the limit), the machine being shared.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, runBasebackup, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster } from '../support/pg-cluster.js';

const MAJOR = 18;
const TARGET_BYTES = 100 * 1024 * 1024;

describe(`PostgreSQL ${MAJOR}: --max-rate`, () => {
  let work: string;
  let src: PgCluster;

  beforeAll(async () => {
    work = makeTempDir('pgbb-rate-');
    mkdirSync(join(work, 'home'));
    src = await PgCluster.start({ major: MAJOR, conf: { autovacuum: 'off' } });
    await src.query('CREATE TABLE filler (id int, payload text)');
    // about 100 MB of data directory in all (the server sends it uncompressed here)
    for (let batch = 0; batch < 20; batch++) {
      const [size] = await src.query<{ bytes: string }>('SELECT sum(pg_database_size(oid))::text AS bytes FROM pg_database');
      if (Number(size?.bytes) >= TARGET_BYTES - 8 * 1024 * 1024) break;
      await src.query(`INSERT INTO filler SELECT g, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) FROM generate_series(${batch * 100_000}, ${batch * 100_000 + 99_999}) g`);
    }
    await src.query('CHECKPOINT');
  });

  afterAll(async () => {
    await src?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function backupBytes(d: string): number {
    return readdirSync(d).reduce((n, f) => n + statSync(join(d, f)).size, 0);
  }

  it('--max-rate=1M on ~100 MB runs at about 1 MB/s; without it, much faster', { timeout: 400_000 }, async () => {
    const fast = join(work, 'unthrottled');
    const t0 = performance.now();
    const r0 = await runBasebackup([...socketArgs(src), '-D', fast, '-Ft', '-X', 'none', '-c', 'fast', '--no-sync'], { env: clientEnv(join(work, 'home')) });
    const unthrottled = (performance.now() - t0) / 1000;
    expect(r0.status).toBe(0);
    const bytes = backupBytes(fast);
    rmSync(fast, { recursive: true, force: true });

    const slow = join(work, 'throttled');
    const t1 = performance.now();
    const r1 = await runBasebackup([...socketArgs(src), '-D', slow, '-Ft', '-X', 'none', '-c', 'fast', '--no-sync', '--max-rate=1M'], {
      env: clientEnv(join(work, 'home')),
      timeoutMs: 380_000,
    });
    const throttled = (performance.now() - t1) / 1000;
    expect(r1.stderr).not.toMatch(/error/);
    expect(r1.status).toBe(0);
    expect(backupBytes(slow)).toBeGreaterThan(bytes * 0.95);
    const rate = bytes / 1024 / 1024 / throttled;
    console.log(
      `--max-rate=1M: ${(bytes / 1048576).toFixed(1)} MB in ${throttled.toFixed(1)} s = ${rate.toFixed(3)} MB/s ` +
        `(limit 1 MB/s, ${((rate - 1) * 100).toFixed(1)}% off); unthrottled ${unthrottled.toFixed(1)} s`,
    );
    expect(bytes).toBeGreaterThan(80 * 1024 * 1024);
    expect(rate).toBeGreaterThan(0.5);
    expect(rate).toBeLessThan(2);
    expect(unthrottled).toBeLessThan(throttled / 4);
    rmSync(slow, { recursive: true, force: true });
  });
});
