/**
 * The extractor, after astreamer_extractor (src/fe_utils/astreamer_file.c): labelled chunks in,
 * files, directories and symbolic links out, under one base directory.
 *
 * As in PostgreSQL:
 * - member "x/y/" becomes `<baseDir>/x/y` (one trailing slash removed); directories, symlinks,
 *   and everything else as a regular file (PostgreSQL's rule for unknown types);
 * - a directory that already exists is an error, except `pg_wal`, `pg_xlog`, `archive_status`,
 *   `summaries`, `pg_tblspc` and `pg_tblspc/<digits>` (made by the WAL receiver, --waldir, or
 *   in-place tablespaces); `pg_wal` may be the --waldir symlink, and WAL members arriving as
 *   `pg_wal/...` (-X fetch) are written through it;
 * - every symlink target goes through `mapLink` (the -T tablespace mapping);
 * - files and directories get the member's permission bits, here limited by the data directory's
 *   mode mask (file-perm.ts): never more access than the server's data directory grants, and no
 *   setuid/setgid/sticky bits (PostgreSQL applies the server's bits unmasked).
 *
 * Beyond PostgreSQL, nothing is ever written outside the base directory: absolute names, ".."
 * components, names passing through a symlink that an archive created, and members replacing such
 * a symlink are rejected; files are opened with O_NOFOLLOW; members at paths the client writes
 * itself (`reservedPaths`: backup_manifest.tmp, streamed WAL) are rejected.
 *
 * With `writeThrough` (the archive comes straight from the connection), every file is opened at its
 * header and each data chunk is written at once, synchronously: the extractor keeps no buffer and never
 * waits, so it can take chunks that are views of the connection's reused read buffer (`inPlace`).
 * Otherwise (behind a decompressor, whose pieces may be small) files smaller than `smallFileBytes`
 * (1 MiB) are gathered and written in one go at their trailer, and larger ones as their data arrives,
 * in 256 KiB batches (write-batcher.ts).
 */
import { chmodSync, closeSync, constants, fchmodSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { FileError, PgBasebackupError, ProtocolError, strerror } from '../errors.js';
import { dataDirPerm } from './file-perm.js';
import type { ArchiveChunk, MemberSink, TarMember } from './streamer.js';
import { FILE_BATCH_BYTES, WRITE_BATCH_BYTES, WriteBatcher, writeAllToFdSync } from './write-batcher.js';

/**
 * What extraction created that later archives must know of: the symbolic links (for the symlink
 * checks); share it between archives.  Files and directories are not listed (the final fsync walks
 * the tree; a list of 60,000 paths cost megabytes).
 */
export interface ExtractionRecord {
  /** Symbolic links created by archives (absolute paths). */
  symlinks: Set<string>;
}

export function newExtractionRecord(): ExtractionRecord {
  return { symlinks: new Set() };
}

export interface ExtractorOptions {
  /** Directory that member names are relative to. */
  baseDir: string;
  /** The server's data_directory_mode (SHOW data_directory_mode), e.g. 0o700 or 0o750. */
  dataDirMode: number;
  /** Applied to every symlink target (pg's get_tablespace_mapping). */
  mapLink?: (target: string) => string;
  /** Shared record of what was created (a new one by default). */
  record?: ExtractionRecord;
  /** Called with each member's path as it starts (pg's progress_update_filename). */
  reportOutputFile?: (path: string) => void;
  smallFileBytes?: number;
  batchBytes?: number;
  /** With writeThrough: called after each write with the file's absolute path and the bytes written. */
  fileWritten?: ((path: string, bytes: number) => void) | undefined;
  /** Called with each regular file's absolute path and size once it is written and closed (early-sync.ts). */
  fileDone?: ((path: string, bytes: number) => void) | undefined;
  /** Write each data chunk as it comes, keeping nothing (see above). */
  writeThrough?: boolean;
  /** Member names (at the archive root) to leave out, e.g. a completion marker from the source. */
  skipMembers?: ReadonlySet<string>;
  /**
   * Paths the client writes itself (backup_manifest.tmp, or under "pg_wal/" while -X stream writes
   * there): a member at one of them (a directory at a prefix is fine) is an error, not a file that the
   * client would later write through.  Entries ending in "/" are prefixes.
   */
  reservedPaths?: readonly string[];
}

const ALLOWED_EXISTING = new Set(['pg_wal', 'pg_xlog', 'archive_status', 'summaries', 'pg_tblspc']);

/** should_allow_existing_directory(): directories other processes or earlier archives create. */
export function mayAlreadyExist(pathname: string): boolean {
  const slash = pathname.lastIndexOf('/');
  const filename = pathname.slice(slash + 1);
  if (ALLOWED_EXISTING.has(filename)) return true;
  if (/^[0-9]*$/.test(filename)) {
    const at = pathname.indexOf('/pg_tblspc/');
    return at !== -1 && at + '/pg_tblspc/'.length === slash + 1;
  }
  return false;
}

interface OpenFile {
  /** For messages: `<baseDir>/<name>`. */
  path: string;
  abs: string;
  mode: number;
  size: number;
  /** Small file: gathered data; large file: undefined. */
  chunks: Buffer[] | undefined;
  fd: number | undefined;
  batcher: WriteBatcher | undefined;
}

export class Extractor implements MemberSink {
  readonly record: ExtractionRecord;
  /** With writeThrough: chunks are consumed before content() returns, which returns nothing. */
  readonly inPlace: boolean;
  private readonly baseDir: string;
  private readonly absBase: string;
  private readonly perm: ReturnType<typeof dataDirPerm>;
  private readonly smallFileBytes: number;
  private readonly batchBytes: number;
  private file: OpenFile | undefined;
  /** Inside a member listed in skipMembers. */
  private skipping = false;

  constructor(private readonly options: ExtractorOptions) {
    this.baseDir = options.baseDir;
    this.absBase = resolvePath(options.baseDir);
    this.perm = dataDirPerm(options.dataDirMode);
    this.record = options.record ?? newExtractionRecord();
    this.smallFileBytes = options.smallFileBytes ?? WRITE_BATCH_BYTES;
    this.batchBytes = options.batchBytes ?? FILE_BATCH_BYTES;
    this.inPlace = options.writeThrough === true;
  }

  content(chunk: ArchiveChunk): void | Promise<void> {
    if (this.skipping || (chunk.kind === 'header' && this.options.skipMembers?.has(chunk.member.name) === true)) {
      this.skipping = chunk.kind !== 'trailer';
      return undefined;
    }
    switch (chunk.kind) {
      case 'header':
        return this.startMember(chunk.member);
      case 'data': {
        const f = this.file;
        if (f === undefined || chunk.buf.length === 0) return undefined;
        if (f.chunks !== undefined) {
          f.chunks.push(chunk.buf);
          return undefined;
        }
        if (f.batcher === undefined) {
          try {
            writeAllSync(f.fd as number, [chunk.buf]);
          } catch (err) {
            this.failWrite(f, err);
          }
          this.options.fileWritten?.(f.abs, chunk.buf.length);
          return undefined;
        }
        let r: void | Promise<void>;
        try {
          r = (f.batcher as WriteBatcher).write(chunk.buf);
        } catch (err) {
          this.failWrite(f, err);
        }
        return r === undefined ? undefined : r.catch((err: unknown) => this.failWrite(f, err));
      }
      case 'trailer':
        return this.endMember();
      case 'archive-trailer':
        return undefined;
      default:
        throw new PgBasebackupError('PGBB_INTERNAL', 'unexpected state while extracting archive');
    }
  }

  private startMember(member: TarMember): void {
    if (this.file !== undefined) throw new PgBasebackupError('PGBB_INTERNAL', 'unexpected state while extracting archive');
    let filename = `${this.baseDir}/${member.name}`;
    if (filename.endsWith('/')) filename = filename.slice(0, -1);
    const abs = this.checkedPath(member.name);
    this.checkReserved(member);
    this.options.reportOutputFile?.(filename);

    if (member.type === 'directory') this.extractDirectory(filename, abs, member.mode);
    else if (member.type === 'symlink') this.extractLink(filename, abs, member.linkTarget);
    else this.createFile(filename, abs, member);
  }

  /** The member's absolute path, after the checks that keep it inside the base directory. */
  private checkedPath(name: string): string {
    const outside = () => new ProtocolError(`tar member "${name}" would be written outside the target directory`);
    if (name.startsWith('/')) throw outside();
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw outside();
    let abs = this.absBase;
    for (let i = 0; i < parts.length; i++) {
      abs = `${abs}/${parts[i] as string}`;
      if (this.record.symlinks.has(abs)) {
        throw new ProtocolError(
          i === parts.length - 1
            ? `tar member "${name}" would replace symbolic link "${abs}"`
            : `tar member "${name}" would be written through symbolic link "${abs}"`,
        );
      }
    }
    return abs;
  }

  private checkReserved(member: TarMember): void {
    const reserved = this.options.reservedPaths;
    if (reserved === undefined) return;
    const path = member.name.split('/').filter((p) => p !== '' && p !== '.').join('/');
    for (const r of reserved) {
      const hit = r.endsWith('/') ? path.startsWith(r) && member.type !== 'directory' : path === r;
      if (hit) throw new ProtocolError(`tar member "${member.name}" would collide with a file pg_basebackup writes itself`);
    }
  }

  private modeFor(memberMode: number): number {
    return memberMode & 0o777 & ~this.perm.modeMask;
  }

  private extractDirectory(filename: string, abs: string, mode: number): void {
    try {
      mkdirSync(abs, this.perm.dirMode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !mayAlreadyExist(filename)) {
        throw new FileError(`could not create directory "${filename}": ${strerror(err)}`, filename, { cause: err });
      }
    }
    try {
      chmodSync(abs, this.modeFor(mode));
    } catch (err) {
      throw new FileError(`could not set permissions on directory "${filename}": ${strerror(err)}`, filename, { cause: err });
    }
  }

  private extractLink(filename: string, abs: string, target: string): void {
    const linkTarget = this.options.mapLink ? this.options.mapLink(target) : target;
    try {
      symlinkSync(linkTarget, abs);
    } catch (err) {
      throw new FileError(
        `could not create symbolic link from "${filename}" to "${linkTarget}": ${strerror(err)}`,
        filename,
        { cause: err },
      );
    }
    this.record.symlinks.add(abs);
  }

  private createFile(filename: string, abs: string, member: TarMember): void {
    const mode = this.modeFor(member.mode);
    if (this.inPlace) {
      this.file = { path: filename, abs, mode, size: member.size, chunks: undefined, fd: this.openFile(filename, abs, mode), batcher: undefined };
      return;
    }
    if (member.size < this.smallFileBytes) {
      this.file = { path: filename, abs, mode, size: member.size, chunks: [], fd: undefined, batcher: undefined };
      return;
    }
    const fd = this.openFile(filename, abs, mode);
    const batcher = new WriteBatcher((bufs) => writeAllToFdSync(fd, bufs), this.batchBytes);
    this.file = { path: filename, abs, mode, size: member.size, chunks: undefined, fd, batcher };
  }

  /** fopen(filename, "wb") then chmod(), without following a symlink in the last component. */
  private openFile(filename: string, abs: string, mode: number): number {
    let fd: number;
    try {
      fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, this.perm.fileMode);
    } catch (err) {
      throw new FileError(`could not create file "${filename}": ${strerror(err)}`, filename, { cause: err });
    }
    try {
      fchmodSync(fd, mode);
    } catch (err) {
      closeSync(fd);
      throw new FileError(`could not set permissions on file "${filename}": ${strerror(err)}`, filename, { cause: err });
    }
    return fd;
  }

  private endMember(): void | Promise<void> {
    const f = this.file;
    if (f === undefined) return undefined;
    if (f.chunks !== undefined) {
      this.file = undefined;
      const fd = this.openFile(f.path, f.abs, f.mode);
      try {
        writeAllSync(fd, f.chunks);
      } catch (err) {
        closeQuietly(fd);
        throw new FileError(`could not write to file "${f.path}": ${strerror(err)}`, f.path, { cause: err });
      }
      this.closeFile(f, fd);
      return undefined;
    }
    if (f.batcher === undefined) {
      this.file = undefined;
      this.closeFile(f, f.fd as number);
      return undefined;
    }
    return this.finishLargeFile(f);
  }

  private async finishLargeFile(f: OpenFile): Promise<void> {
    try {
      await (f.batcher as WriteBatcher).flush();
    } catch (err) {
      this.failWrite(f, err);
    }
    this.file = undefined;
    this.closeFile(f, f.fd as number);
  }

  private failWrite(f: OpenFile, err: unknown): never {
    if (f.fd !== undefined) closeQuietly(f.fd);
    f.fd = undefined;
    this.file = undefined;
    throw new FileError(`could not write to file "${f.path}": ${strerror(err)}`, f.path, { cause: err });
  }

  private closeFile(f: OpenFile, fd: number): void {
    try {
      closeSync(fd);
    } catch (err) {
      throw new FileError(`could not close file "${f.path}": ${strerror(err)}`, f.path, { cause: err });
    }
    this.options.fileDone?.(f.abs, f.size);
  }

  async finish(): Promise<void> {
    if (this.file !== undefined) {
      await this.abort();
      throw new PgBasebackupError('PGBB_INTERNAL', 'archive ended inside a member');
    }
  }

  async abort(): Promise<void> {
    const f = this.file;
    this.file = undefined;
    if (f?.batcher !== undefined) await f.batcher.discard();
    if (f?.fd !== undefined) closeQuietly(f.fd);
  }
}

/** Write a small file's data synchronously in one go, retrying short writes; no progress means ENOSPC. */
function writeAllSync(fd: number, bufs: Buffer[]): void {
  const data = bufs.length === 1 ? (bufs[0] as Buffer) : Buffer.concat(bufs);
  let done = 0;
  while (done < data.length) {
    const n = writeSync(fd, data, done, data.length - done);
    if (n === 0) throw Object.assign(new Error('No space left on device'), { code: 'ENOSPC' });
    done += n;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already failing
  }
}
