/**
 * Beyond pg: every archive the server starts (a COPY 'n' message) must be one the tablespace result
 * set announced, at the announced location, once, under the name the server gives it (basebackup.c:
 * "base.tar" for the main data directory, "<oid>.tar" for a tablespace, plus the server compression's
 * suffix).  pg_basebackup extracts an archive wherever its 'n' message says, so a hostile server could
 * write outside every directory it announced; here such an archive is a protocol error raised before
 * anything of it is written.
 *
 * The tablespace list itself is checked when it arrives: oids are digits, a relative location (16+
 * in-place tablespace) is exactly "pg_tblspc/<its oid>", and the main data directory (no oid, no
 * location) comes once, last.
 */
import { ProtocolError } from '../errors.js';
import type { TablespaceInfo } from './backup-response.js';

const ARCHIVE_NAME = /^(base|[0-9]+)\.tar(\.gz|\.lz4|\.zst)?$/;

/** Checks the tablespace result set (after readTablespaces()); throws a ProtocolError. */
export function checkTablespaceList(tablespaces: readonly TablespaceInfo[]): void {
  const seenOids = new Set<string>();
  const seenLocations = new Set<string>();
  tablespaces.forEach((t, i) => {
    const last = i === tablespaces.length - 1;
    if (t.oid === null || t.location === null) {
      if (t.oid !== null || t.location !== null || !last) {
        throw new ProtocolError('server sent an invalid tablespace list', { detail: 'Only the main data directory, listed last, has no OID and no location.' });
      }
      return;
    }
    if (last) throw new ProtocolError('server sent an invalid tablespace list', { detail: 'The main data directory is missing.' });
    if (!/^[0-9]+$/.test(t.oid)) throw new ProtocolError(`server sent an invalid tablespace OID "${t.oid}"`);
    if (t.location === '' || (!t.location.startsWith('/') && t.location !== `pg_tblspc/${t.oid}`)) {
      throw new ProtocolError(`server sent an invalid location "${t.location}" for tablespace ${t.oid}`, {
        detail: 'A tablespace location is an absolute path, or "pg_tblspc/<OID>" for an in-place tablespace.',
      });
    }
    if (seenOids.has(t.oid) || seenLocations.has(t.location)) {
      throw new ProtocolError(`server listed tablespace ${t.oid} at "${t.location}" twice`);
    }
    seenOids.add(t.oid);
    seenLocations.add(t.location);
  });
}

/** Tracks the 'n' messages of one backup against the announced tablespaces. */
export class ArchiveAnnouncements {
  private readonly received = new Set<string>();

  constructor(private readonly tablespaces: readonly TablespaceInfo[]) {}

  /** Checks one 'n' message (`spcLocation` undefined: the main data directory). */
  check(name: string, spcLocation: string | undefined): void {
    const m = ARCHIVE_NAME.exec(name);
    const where = spcLocation === undefined ? 'the main data directory' : `tablespace location "${spcLocation}"`;
    const key = spcLocation ?? '';
    const t = spcLocation === undefined ? this.tablespaces.find((x) => x.location === null) : this.tablespaces.find((x) => x.location === spcLocation);
    if (t === undefined) {
      throw new ProtocolError(`server sent archive "${name}" for ${where}, which is not in its list of tablespaces`);
    }
    const expected = t.oid ?? 'base';
    if (m === null || m[1] !== expected) {
      throw new ProtocolError(`server sent archive "${name}" for ${where}, expected "${expected}.tar"`);
    }
    if (this.received.has(key)) throw new ProtocolError(`server sent a second archive for ${where}`);
    this.received.add(key);
  }
}
