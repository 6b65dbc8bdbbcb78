/**
 * The link between an incremental backup and its parent, checked from the files themselves: the
 * parent's backup_manifest is the one the backup was taken from (the Manifest-Checksum its completion
 * marker records in `incremental_from`), the child's backup_label and marker say INCREMENTAL FROM the
 * parent's start LSN and timeline, and both are of the same database system.  A full backup's label
 * has no INCREMENTAL FROM lines.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManifestParseError, parseManifest } from '../manifest/parse.js';
import type { BackupEntry } from './inventory.js';

/** The value of `KEY: value` in backup_label text (the first such line), without what follows a space for LSN lines. */
export function labelField(text: string, key: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${key}: `)) return line.slice(key.length + 2).trim();
  }
  return undefined;
}

function readLabel(dir: string, problems: string[]): string | undefined {
  try {
    return readFileSync(join(dir, 'backup_label'), 'latin1');
  } catch (e) {
    problems.push(`could not read file "${join(dir, 'backup_label')}": ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return undefined;
  }
}

/** Problems with `e`'s link to its parent (which may be undefined when missing: then only its own label is checked). */
export function checkChainLink(e: BackupEntry, parent: BackupEntry | undefined): string[] {
  const problems: string[] = [];
  const label = readLabel(e.dir, problems);
  if (label === undefined) return problems;
  const fromLsn = labelField(label, 'INCREMENTAL FROM LSN');
  const fromTli = labelField(label, 'INCREMENTAL FROM TLI');
  if (e.kind === 'FULL') {
    if (fromLsn !== undefined || fromTli !== undefined) problems.push(`backup ${e.id} is recorded as a full backup, but its backup_label says INCREMENTAL FROM LSN ${fromLsn ?? '?'}`);
    return problems;
  }
  if (fromLsn === undefined || fromTli === undefined) {
    problems.push(`backup ${e.id} is recorded as an incremental backup, but its backup_label has no INCREMENTAL FROM lines`);
    return problems;
  }
  if (parent === undefined || parent.marker.state !== 'complete') return problems;
  if (parent.startLsn !== null && fromLsn !== parent.startLsn) {
    problems.push(`backup_label says INCREMENTAL FROM LSN ${fromLsn}, but parent backup ${parent.id} starts at ${parent.startLsn}`);
  }
  if (parent.timeline !== null && Number(fromTli) !== parent.timeline) {
    problems.push(`backup_label says INCREMENTAL FROM TLI ${fromTli}, but parent backup ${parent.id} is on timeline ${parent.timeline}`);
  }
  if (parent.systemIdentifier !== null && e.systemIdentifier !== null && parent.systemIdentifier !== e.systemIdentifier) {
    problems.push(`backup ${e.id} is of database system ${e.systemIdentifier}, but parent backup ${parent.id} is of ${parent.systemIdentifier}`);
  }
  const inc = e.incrementalFrom;
  if (inc !== null && parent.startLsn !== null && (inc.lsn !== parent.startLsn || inc.timeline !== parent.timeline)) {
    problems.push(`completion marker says incremental from ${inc.lsn} on timeline ${inc.timeline}, but parent backup ${parent.id} starts at ${parent.startLsn} on timeline ${parent.timeline}`);
  }
  const manifestPath = join(parent.dir, 'backup_manifest');
  try {
    const checksum = parseManifest(readFileSync(manifestPath)).manifestChecksum;
    if (inc !== null && checksum !== inc.manifestChecksum) {
      problems.push(`parent backup ${parent.id}'s backup_manifest has Manifest-Checksum ${checksum}, but this backup was taken from one with ${inc.manifestChecksum}`);
    }
  } catch (err) {
    const why = err instanceof ManifestParseError ? err.message : `${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    problems.push(`could not read parent backup ${parent.id}'s backup manifest "${manifestPath}": ${why}`);
  }
  return problems;
}
