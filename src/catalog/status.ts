/**
 * A backup's status, derived each time from its record and its completion marker (never stored as a
 * word, so it cannot go stale):
 *
 * - RUNNING: the marker says "in progress" and its process lives (or no marker yet and the catalog
 *   process that started the backup lives);
 * - ERROR: the backup failed, was interrupted (a RUNNING record whose process is gone: SIGKILL, power
 *   loss), its directory is missing, its marker is not its own, or a deletion of it was interrupted;
 * - DONE: complete, not validated (or the backup was replaced since it was validated);
 * - OK / CORRUPT: complete, and the last validation passed / failed;
 * - ORPHAN: complete and not corrupt itself, but a parent is missing or not usable (ERROR, CORRUPT,
 *   ORPHAN, RUNNING), so it cannot be restored.
 */
import type { MarkerStateName } from '../backup/marker-state.js';
import type { ValidationRecord } from './record.js';

export type BackupStatus = 'RUNNING' | 'DONE' | 'OK' | 'ERROR' | 'CORRUPT' | 'ORPHAN';

export const STATUSES: readonly BackupStatus[] = ['RUNNING', 'DONE', 'OK', 'ERROR', 'CORRUPT', 'ORPHAN'];

/** Statuses a backup can be used with: restored, or taken as the parent of an incremental backup. */
export function isUsable(status: BackupStatus): boolean {
  return status === 'DONE' || status === 'OK';
}

export interface OwnStatusInput {
  deletingSince: string | null;
  markerState: MarkerStateName;
  /** For "in progress": whether the writing process lives (null: written on another host). */
  markerProcessRunning: boolean | null | undefined;
  markerReason: string | undefined;
  /** The error message of a "failed" marker. */
  markerError: string | undefined;
  directoryExists: boolean | null;
  /** Whether the catalog process named in the record lives. */
  recordProcessRunning: boolean;
  /** The record's error: the run failed before the marker was written. */
  recordError: string | null;
  runId: string | null;
  validation: ValidationRecord | null;
}

export interface DerivedStatus {
  status: BackupStatus;
  /** Why, for ERROR, CORRUPT and ORPHAN. */
  detail: string | null;
}

/** The status from the backup's own files, before its parents are looked at. */
export function ownStatus(i: OwnStatusInput): DerivedStatus {
  if (i.deletingSince !== null) return { status: 'ERROR', detail: `deletion started at ${i.deletingSince} did not finish` };
  switch (i.markerState) {
    case 'missing':
      if (i.recordError !== null) return { status: 'ERROR', detail: `failed: ${i.recordError}` };
      return i.recordProcessRunning
        ? { status: 'RUNNING', detail: null }
        : { status: 'ERROR', detail: 'the backup process ended before the backup started' };
    case 'foreign':
      return { status: 'ERROR', detail: `completion marker is not this backup's: ${i.markerReason ?? 'unknown'}` };
    case 'in progress':
      return i.markerProcessRunning === false
        ? { status: 'ERROR', detail: 'interrupted: the backup process is gone' }
        : { status: 'RUNNING', detail: null };
    case 'failed':
      return { status: 'ERROR', detail: `failed: ${i.markerError ?? 'unknown error'}` };
    case 'complete':
      break;
  }
  if (i.directoryExists === false) return { status: 'ERROR', detail: 'backup directory is missing' };
  const v = i.validation;
  if (v === null || (v.run_id !== null && v.run_id !== i.runId)) return { status: 'DONE', detail: null };
  if (v.result === 'OK') return { status: 'OK', detail: null };
  return { status: 'CORRUPT', detail: v.messages[0] ?? 'validation failed' };
}

export interface ChainNode {
  id: string;
  parent: string | null;
  own: DerivedStatus;
}

/**
 * Statuses with ORPHAN applied along parent links: a DONE or OK backup whose parent is missing or
 * not usable.  `nodes` may come in any order; a parent cycle (a hand-edited record) is ORPHAN too.
 */
export function chainStatuses(nodes: readonly ChainNode[]): Map<string, DerivedStatus> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out = new Map<string, DerivedStatus>();
  const visiting = new Set<string>();
  const resolve = (n: ChainNode): DerivedStatus => {
    const done = out.get(n.id);
    if (done) return done;
    let s = n.own;
    if (isUsable(s.status) && n.parent !== null) {
      const p = byId.get(n.parent);
      if (p === undefined) {
        s = { status: 'ORPHAN', detail: `parent backup ${n.parent} is missing` };
      } else if (visiting.has(p.id)) {
        s = { status: 'ORPHAN', detail: `parent backup ${n.parent} is part of a cycle` };
      } else {
        visiting.add(n.id);
        const ps = resolve(p);
        visiting.delete(n.id);
        if (!isUsable(ps.status)) s = { status: 'ORPHAN', detail: `parent backup ${n.parent} has status ${ps.status}` };
      }
    }
    out.set(n.id, s);
    return s;
  };
  for (const n of nodes) resolve(n);
  return out;
}
