/**
 * The parent of an incremental backup (-i OLD_MANIFEST), as the completion marker records it: the
 * server takes the earliest of the old manifest's WAL ranges as the new backup_label's
 * INCREMENTAL FROM LSN / INCREMENTAL FROM TLI; the old manifest's Manifest-Checksum names the parent.
 */
import { readFileSync } from 'node:fs';
import { formatLsn } from '../lsn.js';
import { parseManifest } from '../manifest/parse.js';
import type { IncrementalFrom } from '../events/types.js';

/** The parent's identity, or null when the manifest cannot be read (the server accepted it, so this is rare). */
export function incrementalParent(manifestPath: string): IncrementalFrom | null {
  try {
    const m = parseManifest(readFileSync(manifestPath));
    const first = [...m.walRanges].sort((a, b) => (a.startLsn < b.startLsn ? -1 : a.startLsn > b.startLsn ? 1 : 0))[0];
    if (first === undefined) return null;
    return { lsn: formatLsn(first.startLsn), timeline: first.timeline, manifest_checksum: m.manifestChecksum };
  } catch {
    return null;
  }
}
