/**
 * Reading a backup's completion marker back (src/backup/completion-marker.ts) and judging it.
 * `readMarkerState(PATH)` takes the target directory (its marker is the sibling
 * `PATH.pg-basebackup-status.json`, statusFileFor()) or the marker file itself (--status-file):
 *
 * - `missing`: no marker;
 * - `foreign`: a marker that is not this backup's own: not valid JSON, not written by this tool,
 *   without run_id/format_version, of an unknown format version, written for another directory
 *   (`target`), or a --status-file marker copied away from the path it was written at;
 * - `in progress`, `failed`, `complete`: its status.
 *
 * `directory_exists` says whether the target directory is (still) there: a cleaned-up failure leaves a
 * `failed` marker and no directory.  For "in progress" markers written on this host,
 * `process_running` says whether the writing process still exists (false after a kill -9 or a power
 * loss: the run will never finish).
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { MARKER_FORMAT_VERSION, statusFileFor } from './completion-marker.js';

export type MarkerStateName = 'complete' | 'in progress' | 'failed' | 'foreign' | 'missing';

export interface MarkerState {
  state: MarkerStateName;
  /** The target directory (its real path when it exists); null for a marker of `-D -` or `-t`. */
  directory: string | null;
  /** The marker file read. */
  status_file: string;
  /** Whether the target directory exists; null when the marker names none. */
  directory_exists: boolean | null;
  /** Why the marker is foreign or missing. */
  reason?: string;
  /** "in progress" on this host: whether the process that wrote it is still running; else null. */
  process_running?: boolean | null;
  /** The marker's contents (when it is valid JSON). */
  marker?: Record<string, unknown>;
}

const STATUSES = new Set(['complete', 'in progress', 'failed']);

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The real path `path` has or would have: its own when it exists, else its parent's real path joined with its name. */
function realOrParent(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

export function readMarkerState(path: string, isRunning: (pid: number) => boolean = processExists): MarkerState {
  // A marker file given itself (--status-file, or the sidecar named directly), else a target directory.
  const givenFile = isFile(path);
  const statusFile = givenFile ? resolve(path) : statusFileFor(path);
  const expectedTarget = givenFile ? undefined : realOrParent(path);
  const base = { directory: expectedTarget ?? null, status_file: statusFile, directory_exists: expectedTarget === undefined ? null : isDirectory(expectedTarget) };
  let text: string;
  try {
    text = readFileSync(statusFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { state: 'missing', ...base, reason: code === 'ENOENT' ? `no ${statusFile}` : `cannot read ${statusFile}: ${code ?? String(e)}` };
  }
  let marker: unknown;
  try {
    marker = JSON.parse(text);
  } catch {
    return { state: 'foreign', ...base, reason: 'not valid JSON' };
  }
  if (typeof marker !== 'object' || marker === null || Array.isArray(marker)) {
    return { state: 'foreign', ...base, reason: 'not a JSON object' };
  }
  const m = marker as Record<string, unknown>;
  const foreign = (reason: string): MarkerState => ({ state: 'foreign', ...base, reason, marker: m });
  if (m['tool'] !== 'pg-basebackup') return foreign('not written by pg-basebackup');
  if (typeof m['run_id'] !== 'string' || m['run_id'] === '') return foreign('no run_id');
  if (typeof m['format_version'] !== 'number') return foreign('no format_version');
  if (m['format_version'] !== MARKER_FORMAT_VERSION) return foreign(`unknown format_version ${String(m['format_version'])}`);
  const target = m['target'];
  if (target !== null && typeof target !== 'string') return foreign('no target');
  const out: MarkerState = { state: 'foreign', ...base, marker: m };
  if (givenFile) {
    // Written at another path (copied here): not this file's run.
    const written = m['status_file'];
    if (typeof written !== 'string' || realOrParent(written) !== realOrParent(statusFile)) {
      return foreign(`written as ${JSON.stringify(written)}, not as this file`);
    }
    out.directory = target;
    out.directory_exists = target === null ? null : isDirectory(target);
  } else if (target !== expectedTarget) {
    return foreign(`written for ${JSON.stringify(target)}, not for this directory`);
  }
  const status = m['status'];
  if (typeof status !== 'string' || !STATUSES.has(status)) return foreign(`unknown status ${JSON.stringify(status)}`);
  out.state = status as MarkerStateName;
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
