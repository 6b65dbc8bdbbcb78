/**
 * Helpers for the issue-6 integration tests (completion marker, JSON events, signals, library API):
 * a backup started as a child process that a test can watch (its JSON events file, its stderr) and
 * signal at a chosen phase, and checks that a server has nothing of ours left (walsenders, slots).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PgCluster } from '../support/pg-cluster.js';
import { CLI, runTool } from '../support/backup-helpers.js';
import { statusFileFor } from '../../src/backup/completion-marker.js';

/** The completion marker of a target directory: beside it (src/backup/completion-marker.ts). */
export const markerOf = statusFileFor;
export const STATUS_CLI = join(CLI, '..', 'pg-basebackup-status.mjs');

export type Json = Record<string, unknown>;

/** The events of a --json-events file, one parsed object per line (every line must parse). */
export function readEvents(path: string): Json[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  // The last piece is empty, or a line still being written.
  return text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as Json);
}

export function phases(events: Json[]): string[] {
  return events.filter((e) => e['event'] === 'phase').map((e) => String(e['phase']));
}

export function readMarker(dir: string): Json {
  return JSON.parse(readFileSync(statusFileFor(dir), 'utf8')) as Json;
}

export async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000, stepMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface RunningBackup {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(sig: NodeJS.Signals): void;
}

/** Start our pg_basebackup without waiting for it. */
export function startBackup(args: string[], env: NodeJS.ProcessEnv): RunningBackup {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
  child.stdout?.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stderr: err });
    });
  });
  return { child, stderr: () => err, exited, kill: (sig) => child.kill(sig) };
}

/** Run pg-basebackup-status. */
export async function statusOf(dir: string): Promise<{ code: number | null; state: Json }> {
  const r = await runTool(process.execPath, [STATUS_CLI, dir]);
  return { code: r.status, state: JSON.parse(r.stdout.toString('utf8')) as Json };
}

/** Walsender backends and replication slots on the server. */
export async function serverLeftovers(c: PgCluster): Promise<{ walsenders: number; slots: string[] }> {
  const [w] = await c.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_stat_activity WHERE backend_type = 'walsender'");
  const slots = await c.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots ORDER BY 1');
  return { walsenders: Number(w?.n ?? 0), slots: slots.map((s) => s.slot_name) };
}

/** Wait until no walsender and no slot is left (a terminated walsender may need a moment). */
export async function expectServerClean(c: PgCluster, timeoutMs = 10_000): Promise<void> {
  let last = await serverLeftovers(c);
  await waitUntil(
    `walsenders and slots to go (last: ${JSON.stringify(last)})`,
    async () => {
      last = await serverLeftovers(c);
      return last.walsenders === 0 && last.slots.length === 0;
    },
    timeoutMs,
    100,
  ).catch(() => {
    throw new Error(`server not clean: ${JSON.stringify(last)}`);
  });
}

/** Processes whose command line mentions `needle` (e.g. a test's private directory). */
export async function processesMentioning(needle: string): Promise<string[]> {
  const r = await runTool('ps', ['-eo', 'pid,args']);
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}
