/**
 * The tablespaces of the final backup (scan_for_existing_tablespaces): every pg_tblspc/<oid> that is a
 * symbolic link (a tablespace elsewhere, which must be mapped with -T) or a directory (an in-place
 * tablespace, recreated under the output).  Listed as pg lists them: last found first.
 */
import { readlinkSync } from 'node:fs';
import { FileError } from '../errors.js';
import { canonicalizePath, isAbsolutePath } from '../options/canonicalize-path.js';
import type { TablespaceMapping } from '../options/tablespace-mapping.js';
import { closeDirectory, nextEntry, openDirectory } from './dir-entries.js';
import { fileError } from './files.js';
import type { CombineLogger } from './report.js';

export interface Tablespace {
  oid: number;
  inPlace: boolean;
  oldDir: string;
  newDir: string;
}

const MAXPGPATH = 1024;

/** parse_oid(): strtoul's reading of the whole name as a number from 1 to 2^32 - 1. */
export function parseOid(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)$/.exec(s);
  if (m === null) return undefined;
  const v = BigInt(m[2] as string);
  if (m[1] === '-' && v !== 0n) return undefined;
  if (v < 1n || v > 0xffffffffn) return undefined;
  return Number(v);
}

export function scanForExistingTablespaces(backupDir: string, output: string, mappings: readonly TablespaceMapping[], log: CombineLogger): Tablespace[] {
  const pgTblspc = `${backupDir}/pg_tblspc`;
  log.debug(`scanning "${pgTblspc}"`);
  const list: Tablespace[] = [];
  const dir = openDirectory(pgTblspc);
  try {
    for (let e = nextEntry(dir, pgTblspc); e !== undefined; e = nextEntry(dir, pgTblspc)) {
      const path = `${pgTblspc}/${e.name}`;
      const oid = parseOid(e.name);
      if (oid === undefined) {
        log.debug(`skipping "${path}" because the filename is not a legal tablespace OID`);
        continue;
      }
      if (e.type !== 'link' && e.type !== 'dir') {
        log.debug(`skipping "${path}" because it is neither a symbolic link nor a directory`);
        continue;
      }
      let ts: Tablespace;
      if (e.type === 'link') {
        let target: string;
        try {
          target = readlinkSync(path);
        } catch (err) {
          throw fileError(`could not read symbolic link "${path}"`, path, err);
        }
        if (Buffer.byteLength(target) >= MAXPGPATH) throw new FileError(`target of symbolic link "${path}" is too long`, path);
        if (!isAbsolutePath(target)) throw new FileError(`target of symbolic link "${path}" is relative`, path);
        target = canonicalizePath(target);
        // pg keeps its mappings newest first, so the last -T for a directory wins.
        const map = [...mappings].reverse().find((m) => m.oldDir === target);
        if (map === undefined) throw new FileError(`tablespace at "${target}" has no tablespace mapping`, target);
        ts = { oid, inPlace: false, oldDir: map.oldDir, newDir: map.newDir };
      } else {
        ts = { oid, inPlace: true, oldDir: `${pgTblspc}/${e.name}`, newDir: `${output}/pg_tblspc/${e.name}` };
      }
      for (const other of list) {
        if (other.newDir === ts.newDir) {
          throw new FileError(`tablespaces with OIDs ${other.oid} and ${oid} both point at directory "${ts.newDir}"`, ts.newDir);
        }
      }
      list.unshift(ts);
    }
  } finally {
    try {
      closeDirectory(dir, pgTblspc);
    } catch {
      /* pg reports close failures only on the way out of a successful scan */
    }
  }
  return list;
}
