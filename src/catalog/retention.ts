/**
 * The retention policy (Barman's and pgBackRest's rule): only full backups are counted, and each full
 * backup is kept or expired together with every backup that depends on it.
 *
 * - `keepFull = N`: the N newest usable (DONE/OK) full backups are kept;
 * - `keepDays = N`: what is needed to restore to any moment of the last N days: every usable full
 *   backup that finished within them, plus the newest one that finished before them (its incremental
 *   backups cover the start of the window);
 * - both: a backup is kept when either rule keeps it.
 *
 * Backups that are not usable (ERROR, CORRUPT, ORPHAN) are not counted; they expire when their
 * chain's first backup is older than the oldest kept full backup.  RUNNING backups are never expired,
 * and no backup that a kept backup depends on is ever expired.  With no usable full backup, nothing
 * expires.
 */
import { compareBackupIds } from './backup-id.js';
import { isUsable, type BackupStatus } from './status.js';

export interface RetentionInput {
  id: string;
  kind: 'FULL' | 'INCR';
  parent: string | null;
  status: BackupStatus;
  /** When the backup finished (or started, when it did not finish), ms since the epoch. */
  time: number;
}

export interface RetentionRule {
  keepFull: number | null;
  keepDays: number | null;
}

export interface RetentionResult {
  /** What goes, in deletion order (dependents before what they depend on). */
  expired: string[];
  /** The full backups the policy keeps, newest first. */
  keptFulls: string[];
}

const DAY_MS = 86_400_000;

/** The first backup of the chain holding `id` (the full backup, or the oldest present link). */
function rootOf(byId: ReadonlyMap<string, RetentionInput>, id: string): string {
  let cur = byId.get(id);
  const seen = new Set<string>();
  while (cur !== undefined && cur.parent !== null && !seen.has(cur.id)) {
    seen.add(cur.id);
    const p = byId.get(cur.parent);
    if (p === undefined) break;
    cur = p;
  }
  return cur?.id ?? id;
}

export function selectExpired(backups: readonly RetentionInput[], rule: RetentionRule, now: number): RetentionResult {
  const byId = new Map(backups.map((b) => [b.id, b]));
  const fulls = backups
    .filter((b) => b.kind === 'FULL' && isUsable(b.status))
    .sort((a, b) => compareBackupIds(b.id, a.id));
  const kept = new Set<string>();
  if (rule.keepFull !== null) for (const f of fulls.slice(0, rule.keepFull)) kept.add(f.id);
  if (rule.keepDays !== null) {
    const cutoff = now - rule.keepDays * DAY_MS;
    // The newest full backup that finished at or before the window start: what restores to that moment.
    const before = fulls.find((f) => f.time <= cutoff);
    for (const f of fulls) if (f.time >= cutoff) kept.add(f.id);
    if (before !== undefined) kept.add(before.id);
  }
  const keptFulls = fulls.filter((f) => kept.has(f.id)).map((f) => f.id);
  const oldestKept = keptFulls[keptFulls.length - 1];
  if (oldestKept === undefined) return { expired: [], keptFulls };

  const expired = new Set<string>();
  for (const b of backups) {
    const root = rootOf(byId, b.id);
    if (kept.has(root) || b.status === 'RUNNING') continue;
    if (compareBackupIds(root, oldestKept) < 0) expired.add(b.id);
  }
  // Never what a kept backup depends on.
  for (const b of backups) {
    if (expired.has(b.id)) continue;
    let p = b.parent === null ? undefined : byId.get(b.parent);
    const seen = new Set<string>();
    while (p !== undefined && !seen.has(p.id)) {
      seen.add(p.id);
      expired.delete(p.id);
      p = p.parent === null ? undefined : byId.get(p.parent);
    }
  }
  return { expired: [...expired].sort((a, b) => compareBackupIds(b, a)), keptFulls };
}
