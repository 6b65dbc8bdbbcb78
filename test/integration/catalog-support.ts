/** Helpers for the pg-basebackup-catalog integration tests: run the built command, read `show --json`, backdate a backup. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTool, type RunOptions, type RunResult } from '../support/backup-helpers.js';
import type { BackupJson } from '../../src/catalog/show.js';
import { REPO_ROOT } from '../support/pg-cluster.js';

export const CATALOG_CLI = join(REPO_ROOT, 'dist', 'bin', 'pg-basebackup-catalog.mjs');

export function runCatalog(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runTool(process.execPath, [CATALOG_CLI, ...args], opts);
}

/** One object of `show --json` (the command's own type). */
export type ShownBackup = BackupJson;

export async function showJson(catalog: string, env: NodeJS.ProcessEnv): Promise<ShownBackup[]> {
  const r = await runCatalog(['show', '-B', catalog, '--json'], { env });
  if (r.status !== 0) throw new Error(`show --json failed (${r.status}): ${r.stderr}`);
  const v = JSON.parse(r.stdout.toString('utf8')) as unknown;
  if (!Array.isArray(v)) throw new Error('show --json did not print an array');
  return v as ShownBackup[];
}

/** Take a backup; returns its ID (the command's stdout). */
export async function takeBackup(catalog: string, mode: '--full' | '--incremental', env: NodeJS.ProcessEnv, extra: string[] = []): Promise<string> {
  const r = await runCatalog(['backup', '-B', catalog, mode, ...extra], { env });
  if (r.status !== 0) throw new Error(`backup ${mode} failed (${r.status}): ${r.stderr}`);
  return r.stdout.toString('utf8').trim();
}

/** Move a backup's times `days` into the past (its completion marker holds them). */
export function backdate(catalog: string, id: string, days: number): void {
  const path = join(catalog, 'backups', `${id}.pg-basebackup-status.json`);
  const m = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  for (const k of ['started_at', 'finished_at']) {
    if (typeof m[k] === 'string') m[k] = new Date(Date.parse(m[k] as string) - days * 86_400_000).toISOString();
  }
  writeFileSync(path, JSON.stringify(m, null, 2));
}
