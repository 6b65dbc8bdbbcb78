/**
 * Backup IDs: the start time in UTC, `YYYYMMDDTHHMMSSZ` (e.g. 20261204T101500Z), so that names sort
 * by time; a second backup started in the same second gets `-2`, `-3` ... (which still sort after it).
 */

const ID_PATTERN = /^(\d{8}T\d{6}Z)(?:-([1-9]\d{0,5}))?$/;

export function isBackupId(text: string): boolean {
  return ID_PATTERN.test(text);
}

function baseId(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** A new ID for a backup starting at `now`, not among `used` (names in the backups directory, with or without suffixes). */
export function newBackupId(now: Date, used: ReadonlySet<string>): string {
  const base = baseId(now);
  const taken = (id: string) => used.has(id) || [...used].some((n) => n.startsWith(`${id}.`));
  if (!taken(base)) return base;
  for (let n = 2; ; n++) {
    const id = `${base}-${n}`;
    if (!taken(id)) return id;
  }
}

/** Order of IDs: by time, then by suffix number (`-10` after `-9`). */
export function compareBackupIds(a: string, b: string): number {
  const ma = ID_PATTERN.exec(a);
  const mb = ID_PATTERN.exec(b);
  if (!ma || !mb) return a < b ? -1 : a > b ? 1 : 0;
  if (ma[1] !== mb[1]) return (ma[1] as string) < (mb[1] as string) ? -1 : 1;
  return Number(ma[2] ?? 1) - Number(mb[2] ?? 1);
}
