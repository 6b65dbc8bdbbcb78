/**
 * Beyond pg_combinebackup: inputs in tar format (`base.tar[.gz|.lz4|.zst]`, `<oid>.tar*`,
 * `pg_wal.tar*` and `backup_manifest`, as `pg_basebackup -Ft` writes them), used without extracting
 * them by hand.  Reconstruction reads older backups at random offsets, which a compressed stream
 * cannot give, so each tar input is spooled: streamed (bounded memory) through its decompressor and
 * the tar parser into a directory beside the output, `OUTPUT.pg_combinebackup-spool/<n>`, which
 * then looks like a plain backup.  The spool is removed when the run ends, whatever the outcome (a
 * spool left by a killed run is removed by the next run for the same output).
 *
 * Tablespaces: a tar-format base.tar has no `pg_tblspc/<oid>` links but a `tablespace_map` file
 * (pg_basebackup asks for TABLESPACE_MAP); in the spool the map is replaced by links to the extracted
 * `<oid>.tar` directories, as in a plain backup (so the output gets links, not a map).
 * `-T OLDDIR=NEWDIR` names the server's location, as for a plain backup, and is translated to the
 * spool's directory.  pg_wal.tar* is extracted for the final backup
 * only (only its WAL goes to the output).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { Extractor } from '../archive/extractor.js';
import { FileError, PgBasebackupError } from '../errors.js';
import { canonicalizePath } from '../options/canonicalize-path.js';
import type { TablespaceMapping } from '../options/tablespace-mapping.js';
import { classifyArchiveName, type TarArchive } from '../verify/tar.js';
import { pumpArchiveFile } from '../wal/read/archive-file.js';
import { errnoText } from './files.js';
import type { CombineLogger } from './report.js';

export interface PreparedInputs {
  /** The directories to combine: plain inputs as given, tar inputs as their spool directories. */
  dirs: string[];
  /** The -T mappings, plus the spool translations of the final backup's tablespaces. */
  mappings: TablespaceMapping[];
  /** Remove the spool (if any). */
  cleanup(): void;
}

interface TarInput {
  base: TarArchive;
  tablespaces: TarArchive[];
  wal: TarArchive | undefined;
}

/** A directory without PG_VERSION whose base archive is there is a tar-format backup. */
function tarInput(dir: string): TarInput | undefined {
  if (existsSync(`${dir}/PG_VERSION`)) return undefined;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  let base: TarArchive | undefined;
  let wal: TarArchive | undefined;
  const tablespaces: TarArchive[] = [];
  for (const n of names) {
    const a = classifyArchiveName(n);
    if (a === undefined || a.relpath !== n) continue;
    if (a.kind === 'base') base ??= a;
    else if (a.kind === 'pg_wal') wal ??= a;
    else tablespaces.push(a);
  }
  return base === undefined ? undefined : { base, tablespaces, wal };
}

/** Where the spool of a run goes: beside the output directory. */
export function spoolRootFor(output: string): string {
  return `${resolve(output)}.pg_combinebackup-spool`;
}

/** tablespace_map's lines: "<oid> <path>", where a backslash makes the next character literal. */
export function parseTablespaceMap(text: string): { oid: string; path: string }[] {
  const out: { oid: string; path: string }[] = [];
  let line = '';
  let escaped = false;
  const flush = () => {
    const sp = line.indexOf(' ');
    if (sp > 0) out.push({ oid: line.slice(0, sp), path: line.slice(sp + 1) });
    line = '';
  };
  for (const ch of text) {
    if (escaped) {
      line += ch;
      escaped = false;
    } else if (ch === '\\') escaped = true;
    else if (ch === '\n' || ch === '\r') flush();
    else line += ch;
  }
  if (line !== '') flush();
  return out;
}

async function extract(archivePath: string, archive: TarArchive, baseDir: string, mode: number): Promise<void> {
  mkdirSync(baseDir, { recursive: true, mode: 0o700 });
  const sink = new Extractor({ baseDir, dataDirMode: mode });
  try {
    await pumpArchiveFile(archivePath, archive.compression, sink);
  } catch (e) {
    if (e instanceof PgBasebackupError) throw e;
    throw new FileError(`could not read file "${archivePath}": ${errnoText(e)}`, archivePath, { cause: e });
  }
}

export async function prepareTarInputs(inputs: readonly string[], output: string, mappings: readonly TablespaceMapping[], log: CombineLogger): Promise<PreparedInputs> {
  const plan = inputs.map((d) => tarInput(d));
  if (plan.every((p) => p === undefined)) return { dirs: [...inputs], mappings: [...mappings], cleanup: () => undefined };
  const root = spoolRootFor(output);
  // A spool left by a run that was killed (signals end the tool at once, as they end pg's).
  if (existsSync(root)) {
    log.debug(`removing stale spool directory "${root}"`);
    rmSync(root, { recursive: true, force: true });
  }
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  const dirs: string[] = [];
  const extra: TablespaceMapping[] = [];
  try {
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i] as string;
      const p = plan[i];
      if (p === undefined) {
        dirs.push(input);
        continue;
      }
      const final = i === inputs.length - 1;
      const dir = `${root}/${i}`;
      const mode = statSync(input).mode;
      log.debug(`extracting tar-format backup "${input}" into "${dir}"`);
      await extract(`${input}/${p.base.relpath}`, p.base, dir, mode);
      // Server locations of the tablespaces → their spool directories.
      const spoolOf = new Map<string, string>();
      const mapFile = `${dir}/tablespace_map`;
      const map = existsSync(mapFile) ? parseTablespaceMap(readFileSync(mapFile, 'utf8')) : [];
      rmSync(mapFile, { force: true });
      for (const ts of p.tablespaces) {
        const entry = map.find((m) => m.oid === String(ts.tablespaceOid));
        if (entry === undefined) {
          throw new FileError(`tablespace archive "${input}/${ts.relpath}" is not listed in the tablespace_map of "${input}/${p.base.relpath}"`, input);
        }
        const spool = `${root}/${i}-tablespace-${ts.tablespaceOid}`;
        spoolOf.set(canonicalizePath(entry.path), spool);
        await extract(`${input}/${ts.relpath}`, ts, spool, mode);
        symlinkSync(spool, `${dir}/pg_tblspc/${ts.tablespaceOid}`);
      }
      if (final && p.wal !== undefined) await extract(`${input}/${p.wal.relpath}`, p.wal, `${dir}/pg_wal`, mode);
      if (existsSync(`${input}/backup_manifest`)) copyFileSync(`${input}/backup_manifest`, `${dir}/backup_manifest`);
      if (final) {
        for (const [location, spool] of spoolOf) {
          const m = [...mappings].reverse().find((x) => x.oldDir === location);
          if (m === undefined) throw new FileError(`tablespace at "${location}" has no tablespace mapping`, location);
          extra.push({ oldDir: spool, newDir: m.newDir });
        }
      }
      dirs.push(dir);
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  return { dirs, mappings: [...mappings, ...extra], cleanup };
}
