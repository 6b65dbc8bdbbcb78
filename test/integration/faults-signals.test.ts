/**
 * Issue 10, finding 4: how task runners stop a backup.  The hostile server double stalls mid-archive
 * (the target holds files, the connection stays open, nothing more comes), so every run is stopped by
 * the signal and nothing else:
 * - `timeout(1)` sends SIGTERM to the child and then to its whole process group (coreutils timeout.c:
 *   send_sig(monitored_pid) then send_sig(0)), so the child gets it twice at once: 20 runs in a row,
 *   all cleaned up (the two deliveries are one request, not "second signal: exit at once");
 * - a SIGTERM to the process group, and to the process and its group back to back;
 * - systemd's KillMode=mixed: SIGTERM to the main process, SIGKILL only after the stop timeout: the
 *   run must be gone, cleaned up, well before it.
 * Each: exit status 1, "interrupted by signal SIGTERM", the target removed, the marker beside it
 * "failed", nothing else in the sandbox changed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/pg-cluster.js';
import { CLI, clientEnv } from '../support/backup-helpers.js';
import { baseMembers, copy, HostileServer, tar, treeDigest } from '../support/hostile-server.js';
import { statusFileFor } from '../../src/backup/completion-marker.js';

let server: HostileServer;
let root: string;
let n = 0;

beforeAll(async () => {
  server = await HostileServer.start();
  // The whole base archive, then nothing: no CopyDone, the connection held open.
  // A cancel takes a while, as on a busy server: a stop's cleanup lasts at least that long, so a
  // second delivery of the signal lands in the middle of it.
  server.cancelDelayMs = 300;
  server.script = { copyStream: [copy.archive('base.tar'), copy.data(tar(baseMembers(), { unterminated: true }))], ending: [], after: 'hold' };
  root = makeTempDir('pgbb-faults-signals-');
});
afterAll(async () => {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

function sandbox(): { dir: string; target: string; digest: () => string } {
  const dir = join(root, `run${++n}`);
  mkdirSync(join(dir, 'outside'), { recursive: true });
  const target = join(dir, 'target');
  return { dir, target, digest: () => treeDigest(dir, [target, statusFileFor(target)]) };
}

function backupArgs(target: string): string[] {
  return [CLI, ...server.args(), '-D', target, '-Fp', '-X', 'none'];
}

interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function expectClean(r: Exit, target: string, sig = 'SIGTERM', markerExpected = true): void {
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toContain(`pg_basebackup: error: interrupted by signal ${sig}\n`);
  expect(r.stderr).not.toContain('again, exiting at once');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(existsSync(target)).toBe(false);
  // A run stopped before it made the target (still starting up) has no marker either.
  if (!markerExpected && !existsSync(statusFileFor(target))) return;
  const marker = JSON.parse(readFileSync(statusFileFor(target), 'utf8')) as { status: string; error: { message: string } };
  expect(marker.status).toBe('failed');
  expect(marker.error.message).toBe(`interrupted by signal ${sig}`);
}

/** Start a run in its own process group; resolves once it holds data and the server stalls. */
async function startStalled(target: string): Promise<{ pid: number; exited: Promise<Exit> }> {
  const child = spawn(process.execPath, backupArgs(target), { env: clientEnv(root), detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const exited = new Promise<Exit>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stderr })));
  const until = Date.now() + 20_000;
  while (!existsSync(join(target, 'global', 'pg_control'))) {
    if (Date.now() > until) throw new Error(`the run never reached the stall: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { pid: child.pid as number, exited };
}

describe('finding 4: stop signals from task runners', () => {
  it('timeout(1): 20 runs in a row, every one cleaned up', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const sb = sandbox();
      const before = sb.digest();
      // --preserve-status: timeout exits with the child's own status.
      const r = spawnSync('timeout', ['--preserve-status', '1.5', process.execPath, ...backupArgs(sb.target)], { env: clientEnv(root), encoding: 'utf8', timeout: 30_000 });
      const exit: Exit = { status: r.status, signal: r.signal, stderr: r.stderr };
      expectClean(exit, sb.target, 'SIGTERM', false);
      expect(sb.digest()).toBe(before);
      outcomes.push(`${r.status}`);
    }
    expect(outcomes).toEqual(Array(20).fill('1'));
  });

  it('SIGTERM to the process group', async () => {
    const sb = sandbox();
    const before = sb.digest();
    const run = await startStalled(sb.target);
    process.kill(-run.pid, 'SIGTERM');
    expectClean(await run.exited, sb.target);
    expect(sb.digest()).toBe(before);
  });

  it('SIGTERM to the process and, 20 ms later, to its group (what timeout does, slowed down), 5 times', async () => {
    for (let i = 0; i < 5; i++) {
      const sb = sandbox();
      const run = await startStalled(sb.target);
      process.kill(run.pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 20)); // two deliveries (at once, the kernel would merge them)
      process.kill(-run.pid, 'SIGTERM');
      expectClean(await run.exited, sb.target);
    }
  });

  it('SIGINT to the group twice at once (Ctrl-C reaching a wrapper script and the run)', async () => {
    const sb = sandbox();
    const run = await startStalled(sb.target);
    process.kill(-run.pid, 'SIGINT');
    process.kill(run.pid, 'SIGINT');
    expectClean(await run.exited, sb.target, 'SIGINT');
  });

  it("systemd KillMode=mixed: SIGTERM to the main process; it is gone, cleaned up, long before the SIGKILL", async () => {
    const sb = sandbox();
    const before = sb.digest();
    const run = await startStalled(sb.target);
    process.kill(run.pid, 'SIGTERM');
    let killed = false;
    const stopTimeout = setTimeout(() => {
      killed = true;
      try {
        process.kill(-run.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 10_000);
    const r = await run.exited;
    clearTimeout(stopTimeout);
    expect(killed).toBe(false);
    expectClean(r, sb.target);
    expect(sb.digest()).toBe(before);
  });

  it('a later, separate signal during the (slow) stop still exits at once', async () => {
    const sb = sandbox();
    const run = await startStalled(sb.target);
    process.kill(run.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200)); // the cancel takes 300 ms: the stop is still running
    process.kill(run.pid, 'SIGTERM');
    const r = await run.exited;
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('pg_basebackup: error: interrupted by signal SIGTERM again, exiting at once\n');
    expect(JSON.parse(readFileSync(statusFileFor(sb.target), 'utf8')).status).toBe('in progress');
  });
});
