/**
 * Issue 10, finding 7: a server that stops sending is waited on, as pg does; libpq's keepalive
 * options bound a dead peer and are applied as libpq applies them.  The hostile double stalls
 * mid-archive over TCP; the client's socket is then inspected with ss(8), which shows the kernel's
 * keepalive timer ("timer:(keepalive,29sec,0)") when SO_KEEPALIVE is on.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/pg-cluster.js';
import { clientEnv, runBasebackup } from '../support/backup-helpers.js';
import { baseMembers, copy, HostileServer, tar } from '../support/hostile-server.js';
import { startBackup, waitUntil } from './events-support.js';

const haveSs = spawnSync('ss', ['-V']).status === 0;

let server: HostileServer;
let root: string;
let n = 0;

beforeAll(async () => {
  server = await HostileServer.start();
  server.script = { copyStream: [copy.archive('base.tar'), copy.data(tar(baseMembers(), { unterminated: true }))], ending: [], after: 'hold' };
  root = makeTempDir('pgbb-keepalives-');
});
afterAll(async () => {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

function tcp(extra: string): string[] {
  return ['-d', `host=127.0.0.1 port=${server.port} user=postgres sslmode=disable ${extra}`];
}

/** The keepalive timer of the client's socket to the double, e.g. "keepalive,29sec,0"; '' when there is none. */
function clientTimer(): string {
  const r = spawnSync('ss', ['-tnoH', 'state', 'established', `( dport = :${server.port} )`], { encoding: 'utf8' });
  const m = /timer:\(([^)]*)\)/.exec(r.stdout);
  if (r.stdout.trim() === '') throw new Error('no client socket found');
  return m?.[1] ?? '';
}

/** Run until the stall, read the timer, stop the run (SIGTERM, cleaned up). */
async function timerWith(extra: string): Promise<{ timer: string; stderr: string }> {
  const target = join(root, `t${++n}`);
  const k = startBackup([...tcp(extra), '-D', target, '-Fp', '-X', 'none', '--no-status-file'], clientEnv(root));
  let exited = false;
  void k.exited.then(() => (exited = true));
  await waitUntil('the stall', () => {
    if (exited) throw new Error(`the run ended before the stall: ${k.stderr()}`);
    return existsSync(join(target, 'global', 'pg_control'));
  }, 20_000, 20).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; stderr so far: ${k.stderr()}`);
  });
  const timer = clientTimer();
  k.kill('SIGTERM');
  const r = await k.exited;
  expect(r.status).toBe(1);
  expect(existsSync(target)).toBe(false);
  return { timer, stderr: r.stderr };
}

const seconds = (timer: string) => {
  const m = /^keepalive,(\d+)(sec|min),/.exec(timer);
  if (m === null) return undefined;
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
};

describe('finding 7: libpq keepalive options on TCP connections', () => {
  it.skipIf(!haveSs)('default (keepalives=1): SO_KEEPALIVE on with the system idle time', async () => {
    const { timer } = await timerWith('');
    expect(timer).toMatch(/^keepalive,/);
    const systemIdle = Number(spawnSync('cat', ['/proc/sys/net/ipv4/tcp_keepalive_time'], { encoding: 'utf8' }).stdout.trim());
    expect(seconds(timer)).toBeGreaterThan(Math.min(systemIdle - 120, 31)); // not an idle time this client made up
  });

  it.skipIf(!haveSs)('keepalives_idle=30: the kernel timer counts down from 30 s', async () => {
    const { timer, stderr } = await timerWith('keepalives_idle=30');
    const s = seconds(timer);
    expect(s).toBeDefined();
    expect(s).toBeLessThanOrEqual(30);
    expect(stderr).not.toContain('WARNING');
  });

  it.skipIf(!haveSs)('keepalives=0: no keepalive timer', async () => {
    const { timer } = await timerWith('keepalives=0 keepalives_idle=30');
    expect(timer).not.toMatch(/keepalive/);
  });

  it.skipIf(!haveSs)('interval, count and tcp_user_timeout that Node cannot set: a warning each, the rest applied', async () => {
    const { timer, stderr } = await timerWith('keepalives_idle=20 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=9000');
    expect(seconds(timer)).toBeLessThanOrEqual(20);
    for (const o of ['keepalives_interval=5', 'keepalives_count=3', 'tcp_user_timeout=9000']) {
      expect(stderr).toContain(`WARNING: connection option ${o} cannot be applied by this client (Node.js cannot set it) and is ignored\n`);
    }
  });

  it.skipIf(!haveSs)('interval=1 and count=10 with an idle time are what libuv sets: no warning', async () => {
    const { stderr } = await timerWith('keepalives_idle=20 keepalives_interval=1 keepalives_count=10 tcp_user_timeout=0');
    expect(stderr).not.toContain('WARNING');
  });

  it("libpq's errors: a value that is not an integer, an idle time of 0 (setsockopt fails); unix sockets ignore them", async () => {
    const target = join(root, 'bad');
    let r = await runBasebackup([...tcp('keepalives=abc'), '-D', target, '--no-status-file'], { env: clientEnv(root) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid integer value "abc" for connection option "keepalives"');
    r = await runBasebackup([...tcp('keepalives_idle=0'), '-D', target, '--no-status-file'], { env: clientEnv(root) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('setsockopt(TCP_KEEPIDLE) failed: Invalid argument');
    expect(r.stderr).toMatch(/^pg_basebackup: error: /m);
    expect(existsSync(target)).toBe(false);
    // Over the unix socket libpq applies none of them.
    server.script = {};
    r = await runBasebackup(['-d', `host=${server.dir} port=${server.port} user=postgres keepalives_idle=0 keepalives=abc`, '-D', target, '--no-status-file', '-X', 'none'], { env: clientEnv(root) });
    expect(r.status, r.stderr).toBe(0);
    server.script = { copyStream: [copy.archive('base.tar'), copy.data(tar(baseMembers(), { unterminated: true }))], ending: [], after: 'hold' };
  });
});
