/**
 * Restoring a full backup without the combiner: a copy of its directory, as pg_combinebackup would
 * make of a chain of one (file contents, file and directory modes, the backup_manifest as it is).
 * Files are copied by the kernel (copyFileSync), so memory stays bounded whatever their size.
 * Tablespaces (pg_tblspc/<oid> symbolic links) are copied to their -T mapping and linked there; a
 * tablespace without one is refused (it would be written over the backup's own copy).  Other symbolic
 * links are recreated as they are.  Everything is fsynced at the end.
 */
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileError, strerror } from '../errors.js';
import { fsyncPgdata } from '../fs/fsync.js';
import { CatalogError } from './catalog-error.js';
import type { TablespaceMappingArg } from './tools.js';

function fileError(what: string, path: string, e: unknown): FileError {
  return new FileError(`${what} "${path}": ${strerror(e)}`, path, { cause: e });
}

/** Copy `from` to `to`; in a data directory (`rel` '' at its root) the tablespace links of pg_tblspc are left to the caller. */
function copyTree(from: string, to: string, rel: string | undefined): void {
  const st = lstatSync(from);
  try {
    mkdirSync(to, { mode: st.mode & 0o7777 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError('could not create directory', to, e);
  }
  chmodSync(to, st.mode & 0o7777);
  for (const de of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, de.name);
    const dst = join(to, de.name);
    if (de.isDirectory()) {
      copyTree(src, dst, rel === undefined ? undefined : rel === '' ? de.name : `${rel}/${de.name}`);
    } else if (de.isSymbolicLink()) {
      if (rel === 'pg_tblspc') continue;
      try {
        symlinkSync(readlinkSync(src), dst);
      } catch (e) {
        throw fileError('could not create symbolic link', dst, e);
      }
    } else if (de.isFile()) {
      try {
        copyFileSync(src, dst, constants.COPYFILE_EXCL);
        chmodSync(dst, lstatSync(src).mode & 0o7777);
      } catch (e) {
        throw fileError('could not copy file', src, e);
      }
    }
    // sockets, FIFOs, devices: never in a base backup; skipped.
  }
}

function isEmptyOrMissing(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Copy the full backup `backupDir` to `target` (missing or empty). */
export function copyFullBackup(backupDir: string, target: string, mappings: readonly TablespaceMappingArg[]): void {
  const tblspc = join(backupDir, 'pg_tblspc');
  const links: { oid: string; location: string; newDir: string }[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(tblspc);
  } catch {
    /* no pg_tblspc */
  }
  for (const oid of names) {
    const p = join(tblspc, oid);
    if (!lstatSync(p).isSymbolicLink()) continue;
    const location = resolve(tblspc, readlinkSync(p));
    const m = mappings.find((x) => resolve(x.oldDir) === location);
    if (m === undefined) {
      throw new CatalogError(`tablespace ${oid} of the backup is at "${location}": give a new location with -T "${location}=NEWDIR"`, { code: 'PGBB_USAGE' });
    }
    if (!isEmptyOrMissing(m.newDir)) throw new CatalogError(`directory "${m.newDir}" exists but is not empty`, { code: 'PGBB_USAGE' });
    links.push({ oid, location, newDir: resolve(m.newDir) });
  }
  copyTree(backupDir, target, '');
  const tblspcOut = join(target, 'pg_tblspc');
  for (const l of links) {
    copyTree(l.location, l.newDir, undefined);
    try {
      symlinkSync(l.newDir, join(tblspcOut, l.oid));
    } catch (e) {
      throw fileError('could not create symbolic link', join(tblspcOut, l.oid), e);
    }
  }
  fsyncPgdata(target, () => undefined);
}
