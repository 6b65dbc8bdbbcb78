/**
 * The WAL stage: pg_verifybackup runs `pg_waldump --quiet --path=DIR --timeline=T --start=S --end=E`
 * for each WAL range of the manifest and reports `WAL parsing failed for timeline T` when it fails.
 * Here the built-in reader (src/wal/read) does pg_waldump's work, for WAL of 13 to 18, and also reads
 * WAL inside pg_wal.tar[.gz|.lz4|.zst] (or base.tar's pg_wal/ with -X fetch).  What pg_waldump would
 * print is printed the same way, under its name, so that the output matches PostgreSQL's.
 */
import { statSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { archiveCompression } from '../compression/compression.js';
import { openWalDirectory, segmentSizeFromFirstPage, type WalLocation } from '../wal/read/dir-source.js';
import { checkWalRange, fatalMessages, type WalMessage } from '../wal/read/range-check.js';
import { WalReadFatal } from '../wal/read/segment-source.js';
import { TarWalSource } from '../wal/read/tar-source.js';
import { majorOfPgVersion, walFormatOfMagic, walFormatOfMajor, type WalFormat } from '../wal/read/wal-format.js';
import type { VerifierContext } from './context.js';
import type { TarArchive } from './tar.js';

const WALDUMP = 'pg_waldump';

/** Where the WAL is: a directory, or an archive (with the prefix of its WAL members). */
export type WalPlace =
  | { kind: 'directory'; path: string }
  | { kind: 'archive'; path: string; archive: TarArchive['compression']; prefix: string };

function printWaldump(ctx: VerifierContext, messages: readonly WalMessage[]): void {
  for (const m of messages) ctx.reporter.raw(m.level === 'info' ? `${WALDUMP}: ${m.text}\n` : `${WALDUMP}: ${m.level}: ${m.text}\n`);
}

/** The WAL format: from the backup's PG_VERSION when known, else from the first WAL page seen. */
function walFormat(ctx: VerifierContext, firstPageMagic: number): WalFormat {
  const major = ctx.pgVersion === undefined ? undefined : majorOfPgVersion(ctx.pgVersion);
  const byMajor = major === undefined ? undefined : walFormatOfMajor(major);
  if (byMajor !== undefined) return byMajor;
  return walFormatOfMagic(firstPageMagic) ?? (walFormatOfMajor(18) as WalFormat);
}

/** -w given, a plain backup, or the archives of a tar backup: where to read WAL from. */
export function walPlace(
  ctx: VerifierContext,
  found: { walArchive?: TarArchive | undefined; baseArchive?: TarArchive | undefined },
): WalPlace | undefined {
  const o = ctx.options;
  if (o.walDirectory !== undefined) {
    const name = o.walDirectory.slice(o.walDirectory.lastIndexOf('/') + 1);
    const compression = archiveCompression(name) ?? (name.endsWith('.tgz') ? 'gzip' : undefined);
    let isFile = false;
    try {
      isFile = statSync(o.walDirectory).isFile();
    } catch {
      // pg_waldump reports it
    }
    if (isFile && compression !== undefined) return { kind: 'archive', path: o.walDirectory, archive: compression, prefix: '' };
    return { kind: 'directory', path: o.walDirectory };
  }
  if (o.format === 'plain') return { kind: 'directory', path: `${o.backupDirectory}/pg_wal` };
  const a = found.walArchive ?? found.baseArchive;
  if (a === undefined) return undefined;
  return {
    kind: 'archive',
    path: `${o.backupDirectory}/${a.relpath}`,
    archive: a.compression,
    prefix: a.kind === 'pg_wal' ? '' : 'pg_wal/',
  };
}

async function locate(place: WalPlace): Promise<WalLocation> {
  if (place.kind === 'directory') return openWalDirectory(place.path);
  let opened;
  try {
    opened = await TarWalSource.open({ path: place.path, compression: place.archive, prefix: place.prefix });
  } catch (e) {
    if (e instanceof WalReadFatal) throw e;
    throw new WalReadFatal(`could not read file "${place.path}": ${e instanceof Error ? e.message : String(e)}`);
  }
  if (opened.first === undefined) {
    await opened.source.close();
    throw new WalReadFatal('could not find any WAL file');
  }
  const { walSegSize, magic } = segmentSizeFromFirstPage(opened.first.name, opened.first.head);
  return { source: opened.source, walSegSize, firstPageMagic: magic };
}

export async function parseRequiredWal(ctx: VerifierContext, place: WalPlace | undefined): Promise<void> {
  const r = ctx.reporter;
  if (ctx.pgVersion === undefined && ctx.options.format === 'plain') {
    try {
      ctx.pgVersion = readFileSync(`${ctx.options.backupDirectory}/PG_VERSION`, 'latin1');
    } catch {
      // the WAL's own magic decides
    }
  }
  const manifest = ctx.manifest.manifest;
  for (const range of manifest.walRanges) {
    let failed: boolean;
    if (place === undefined) {
      printWaldump(ctx, [{ level: 'error', text: 'could not find any WAL file' }]);
      failed = true;
    } else {
      let loc: WalLocation | undefined;
      try {
        loc = await locate(place);
      } catch (e) {
        if (!(e instanceof WalReadFatal)) throw e;
        printWaldump(ctx, fatalMessages(e));
      }
      if (loc === undefined) {
        failed = true;
      } else {
        try {
          const outcome = await checkWalRange(range, {
            source: loc.source,
            walSegSize: loc.walSegSize,
            format: walFormat(ctx, loc.firstPageMagic),
            systemIdentifier: manifest.systemIdentifier,
          });
          printWaldump(ctx, outcome.messages);
          failed = outcome.failed;
        } finally {
          await loc.source.close();
        }
      }
    }
    if (failed) r.backupError(`WAL parsing failed for timeline ${range.timeline}`);
  }
}

