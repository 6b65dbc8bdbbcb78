/**
 * Reading what a backup wrote: tar archives as the server makes them, data directory trees, checksums in
 * a manifest's algorithms (CRC32C included), and backup_manifest itself, compared with the files written.
 */
import { createHash } from 'node:crypto';
import { createChecksummer, parseChecksumAlgorithm, type Checksummer } from '../../src/manifest/checksum.js';
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

// ---------------------------------------------------------------------------------------------------
// Checksums as a backup manifest records them.

/** An incremental checksum for one manifest algorithm (CRC32C, SHA224..SHA512, NONE). */
export type { Checksummer } from '../../src/manifest/checksum.js';

export function checksummer(algorithm: string): Checksummer {
  const a = parseChecksumAlgorithm(algorithm);
  if (!a) throw new Error(`unknown manifest checksum algorithm ${algorithm}`);
  return createChecksummer(a);
}

const CHUNK = 1 << 20;

/** Checksum of a file on disk. */
export function fileChecksum(path: string, algorithm: string): string {
  const cs = checksummer(algorithm);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      cs.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return cs.digest();
}

// ---------------------------------------------------------------------------------------------------
// Tar archives (ustar as the server writes them).

export interface TarMember {
  name: string;
  typeflag: string;
  size: number;
  mode: number;
  mtime: number;
  linkname: string;
  /** The raw 512-byte header. */
  header: Buffer;
  /** Offset of the header in the archive. */
  offset: number;
  /** Checksum of the member's data (regular files only), when an algorithm was asked for. */
  checksum?: string;
  /** The data itself, when asked for with `keepData`. */
  data?: Buffer;
}

export interface TarScan {
  members: TarMember[];
  /** Where the two zero blocks start. */
  terminatorOffset: number;
  /** Total archive length. */
  length: number;
}

function cstring(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? s.length : z).toString('utf8');
}

function octal(b: Buffer, start: number, len: number): number {
  const f = b.subarray(start, start + len);
  if (((f[0] as number) & 0x80) !== 0) {
    let v = 0;
    for (let i = 1; i < f.length; i++) v = v * 256 + (f[i] as number);
    return v;
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/g, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/**
 * Read a tar archive (path or bytes) member by member, up to its two terminating zero blocks.
 * Throws on a bad header checksum or a truncated archive.
 */
export function scanTar(source: string | Buffer, opts: { checksum?: string; keepData?: (name: string) => boolean } = {}): TarScan {
  const fd = typeof source === 'string' ? openSync(source, 'r') : undefined;
  const length = fd !== undefined ? fstatSync(fd).size : (source as Buffer).length;
  const read = (buf: Buffer, pos: number): number => {
    if (fd !== undefined) return readSync(fd, buf, 0, buf.length, pos);
    return (source as Buffer).copy(buf, 0, pos, Math.min(pos + buf.length, length));
  };
  const members: TarMember[] = [];
  try {
    let pos = 0;
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const header = Buffer.alloc(512);
      if (read(header, pos) !== 512) throw new Error(`tar truncated at ${pos}`);
      if (header.every((x) => x === 0)) {
        const next = Buffer.alloc(512);
        if (read(next, pos + 512) !== 512 || !next.every((x) => x === 0)) throw new Error(`single zero block at ${pos}`);
        return { members, terminatorOffset: pos, length };
      }
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] as number);
      if (sum !== octal(header, 148, 8)) throw new Error(`bad tar header checksum at ${pos}`);
      const m: TarMember = {
        name: cstring(header, 0, 100),
        mode: octal(header, 100, 8),
        size: octal(header, 124, 12),
        mtime: octal(header, 136, 12),
        typeflag: String.fromCharCode(header[156] as number),
        linkname: cstring(header, 157, 100),
        header,
        offset: pos,
      };
      const prefix = cstring(header, 345, 155);
      if (prefix !== '') m.name = `${prefix}/${m.name}`;
      pos += 512;
      const isFile = m.typeflag === '0' || m.typeflag === '\0';
      if (isFile && (opts.checksum !== undefined || opts.keepData?.(m.name))) {
        const cs = opts.checksum !== undefined ? checksummer(opts.checksum) : undefined;
        const parts: Buffer[] = [];
        for (let done = 0; done < m.size; ) {
          const want = Math.min(CHUNK, m.size - done);
          const n = read(chunk.subarray(0, want), pos + done);
          if (n !== want) throw new Error(`tar member ${m.name} truncated`);
          cs?.update(chunk.subarray(0, n));
          if (opts.keepData?.(m.name)) parts.push(Buffer.from(chunk.subarray(0, n)));
          done += n;
        }
        if (cs) m.checksum = cs.digest();
        if (opts.keepData?.(m.name)) m.data = Buffer.concat(parts);
      }
      pos += Math.ceil(m.size / 512) * 512;
      members.push(m);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------
// Data directories.

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits. */
  mode: number;
  size: number;
  abs: string;
  linkTarget?: string;
}

/**
 * Every entry under root, keyed by its path relative to root.  Symlinks `pg_tblspc/<oid>` are listed
 * and also followed, so that tablespace files appear as `pg_tblspc/<oid>/...` as in a manifest.
 */
export function listTree(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const a = join(abs, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(a);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) {
        const target = readlinkSync(a);
        out.set(r, { type: 'symlink', mode, size: 0, abs: a, linkTarget: target });
        if (rel === 'pg_tblspc' && statSync(a).isDirectory()) walk(a, r);
      } else if (st.isDirectory()) {
        out.set(r, { type: 'dir', mode, size: 0, abs: a });
        walk(a, r);
      } else {
        out.set(r, { type: 'file', mode, size: st.size, abs: a });
      }
    }
  };
  walk(root, '');
  return out;
}

// ---------------------------------------------------------------------------------------------------
// backup_manifest.

export interface ManifestFile {
  path: string;
  size: number;
  algorithm: string;
  checksum: string;
}

export interface Manifest {
  version: number;
  systemIdentifier?: string;
  files: ManifestFile[];
  walRanges: { timeline: number; startLsn: string; endLsn: string }[];
  /** The recorded Manifest-Checksum and the SHA-256 of the text it covers. */
  recordedChecksum: string;
  computedChecksum: string;
}

/**
 * Parse a manifest.  Its checksum covers every byte before the `"Manifest-Checksum"` key, i.e. up to
 * and including the newline that ends the WAL-Ranges line (pg's verify_manifest_checksum).
 */
export function parseManifest(bytes: Buffer): Manifest {
  const text = bytes.toString('utf8');
  const json = JSON.parse(text) as Record<string, unknown>;
  const at = bytes.lastIndexOf(Buffer.from('"Manifest-Checksum"'));
  if (at < 0) throw new Error('no Manifest-Checksum');
  const files = (json['Files'] as Record<string, unknown>[]).map((f) => ({
    path: typeof f['Path'] === 'string' ? f['Path'] : Buffer.from(String(f['Encoded-Path']), 'hex').toString('utf8'),
    size: Number(f['Size']),
    algorithm: String(f['Checksum-Algorithm'] ?? 'NONE'),
    checksum: String(f['Checksum'] ?? ''),
  }));
  const walRanges = (json['WAL-Ranges'] as Record<string, unknown>[]).map((w) => ({
    timeline: Number(w['Timeline']),
    startLsn: String(w['Start-LSN']),
    endLsn: String(w['End-LSN']),
  }));
  const m: Manifest = {
    version: Number(json['PostgreSQL-Backup-Manifest-Version']),
    files,
    walRanges,
    recordedChecksum: String(json['Manifest-Checksum']),
    computedChecksum: createHash('sha256').update(bytes.subarray(0, at)).digest('hex'),
  };
  // A JSON number beyond 2^53: read its digits from the text rather than through JSON.parse.
  const sysId = /"System-Identifier": *(\d+)/.exec(text);
  if (json['System-Identifier'] !== undefined) m.systemIdentifier = sysId?.[1] ?? 'unparsable';
  return m;
}

/**
 * Differences between a manifest's file list and the files actually written (path → size and
 * checksum in the manifest's algorithm).  Empty when they agree exactly.
 */
export function manifestProblems(m: Manifest, actual: Map<string, { size: number; checksum: () => string }>): string[] {
  const problems: string[] = [];
  const listed = new Set<string>();
  for (const f of m.files) {
    if (listed.has(f.path)) problems.push(`listed twice: ${f.path}`);
    listed.add(f.path);
    const a = actual.get(f.path);
    if (!a) {
      problems.push(`in manifest, not written: ${f.path}`);
      continue;
    }
    if (a.size !== f.size) problems.push(`size of ${f.path}: manifest ${f.size}, written ${a.size}`);
    else if (f.algorithm !== 'NONE' && a.checksum() !== f.checksum) problems.push(`checksum of ${f.path} differs`);
  }
  for (const p of actual.keys()) if (!listed.has(p)) problems.push(`written, not in manifest: ${p}`);
  return problems;
}

/**
 * Does the server list this file in the manifest?  Everything it sends except WAL: segments and history
 * files fetched with -X fetch are covered by WAL-Ranges instead, but their archive_status/*.done files,
 * generated by the server, are listed.  Streamed WAL is written by the client and never listed.
 */
export function manifestLists(path: string, walFetched: boolean): boolean {
  // backup_manifest is the client's own file (the completion marker is beside the target, not in it).
  if (!path.startsWith('pg_wal/')) return path !== 'backup_manifest';
  return walFetched && path.startsWith('pg_wal/archive_status/');
}

/** The regular files of a plain backup that its manifest must list. */
export function plainBackupFiles(root: string, algorithm: string, walFetched: boolean): Map<string, { size: number; checksum: () => string }> {
  const out = new Map<string, { size: number; checksum: () => string }>();
  for (const [rel, e] of listTree(root)) {
    if (e.type !== 'file' || !manifestLists(rel, walFetched)) continue;
    out.set(rel, { size: e.size, checksum: () => fileChecksum(e.abs, algorithm) });
  }
  return out;
}

/** The regular files of tar archives as a manifest lists them; tablespace archives get `pg_tblspc/<oid>/`. */
export function tarBackupFiles(archives: { scan: TarScan; prefix: string }[], walFetched: boolean): Map<string, { size: number; checksum: () => string }> {
  const out = new Map<string, { size: number; checksum: () => string }>();
  for (const { scan, prefix } of archives) {
    for (const m of scan.members) {
      const p = `${prefix}${m.name}`;
      if (m.typeflag !== '0' || !manifestLists(p, walFetched)) continue;
      out.set(p, { size: m.size, checksum: () => m.checksum ?? '(not computed)' });
    }
  }
  return out;
}
