/**
 * Reading a directory's completion marker back (src/backup/completion-marker.ts) and judging it:
 *
 * - `missing`: no marker (or no such directory);
 * - `foreign`: a marker that is not this directory's own: not valid JSON, not written by this tool,
 *   without run_id/format_version, of an unknown format version, or whose `target` is not the
 *   directory's real path (copied or extracted from elsewhere, e.g. out of a backed-up data directory);
 * - `in progress`, `failed`, `complete`: its status.
 *
 * For "in progress" markers written on this host, `process_running` says whether the writing process
 * still exists (false after a kill -9 or a power loss: the run will never finish).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MARKER_FORMAT_VERSION, MARKER_NAME } from './completion-marker.js';

export type MarkerStateName = 'complete' | 'in progress' | 'failed' | 'foreign' | 'missing';

export interface MarkerState {
  state: MarkerStateName;
  /** The directory asked about (its real path when it exists). */
  directory: string;
  /** Why the marker is foreign or missing. */
  reason?: string;
  /** "in progress" on this host: whether the process that wrote it is still running; else null. */
  process_running?: boolean | null;
  /** The marker's contents (when it is valid JSON). */
  marker?: Record<string, unknown>;
}

const STATUSES = new Set(['complete', 'in progress', 'failed']);

export function readMarkerState(dir: string, isRunning: (pid: number) => boolean = processExists): MarkerState {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    return { state: 'missing', directory: dir, reason: `cannot access directory: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  let text: string;
  try {
    text = readFileSync(join(real, MARKER_NAME), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { state: 'missing', directory: real, reason: code === 'ENOENT' ? `no ${MARKER_NAME}` : `cannot read ${MARKER_NAME}: ${code ?? String(e)}` };
  }
  let marker: unknown;
  try {
    marker = JSON.parse(text);
  } catch {
    return { state: 'foreign', directory: real, reason: 'not valid JSON' };
  }
  if (typeof marker !== 'object' || marker === null || Array.isArray(marker)) {
    return { state: 'foreign', directory: real, reason: 'not a JSON object' };
  }
  const m = marker as Record<string, unknown>;
  const foreign = (reason: string): MarkerState => ({ state: 'foreign', directory: real, reason, marker: m });
  if (m['tool'] !== 'pg-basebackup') return foreign('not written by pg-basebackup');
  if (typeof m['run_id'] !== 'string' || m['run_id'] === '') return foreign('no run_id');
  if (typeof m['format_version'] !== 'number') return foreign('no format_version');
  if (m['format_version'] !== MARKER_FORMAT_VERSION) return foreign(`unknown format_version ${String(m['format_version'])}`);
  if (m['target'] !== real) return foreign(`written for ${JSON.stringify(m['target'])}, not for this directory`);
  const status = m['status'];
  if (typeof status !== 'string' || !STATUSES.has(status)) return foreign(`unknown status ${JSON.stringify(status)}`);
  const out: MarkerState = { state: status as MarkerStateName, directory: real, marker: m };
  if (status === 'in progress') {
    const pid = m['pid'];
    out.process_running = m['host'] === hostname() && typeof pid === 'number' ? isRunning(pid) : null;
  }
  return out;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
