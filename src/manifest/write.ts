/**
 * A backup_manifest writer with pg_combinebackup's exact formatting
 * (src/bin/pg_combinebackup/write_manifest.c): version 2 with the System-Identifier, one line per
 * file (`Path` or hex `Encoded-Path`, `Size`, `Last-Modified` in UTC as strftime's
 * "%Y-%m-%d %H:%M:%S %Z" prints it, then `Checksum-Algorithm` and `Checksum` unless NONE), the
 * WAL-Ranges, and the SHA-256 Manifest-Checksum of everything before it.
 *
 * The text is written as it grows (in pieces of a little over 128 kB), so memory stays bounded
 * whatever the number of files; the file is created (O_EXCL) at the first write.
 */
import type { Hash } from 'node:crypto';
import { cryptoModule } from '../lazy-builtins.js';
import { closeSync, openSync, writeSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { FileError, strerror } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { ChecksumAlgorithm } from './checksum.js';

export interface WalRange {
  timeline: number;
  startLsn: Lsn;
  endLsn: Lsn;
}

const FLUSH_AT = 128 * 1024;

/** JSON string literal as pg's frontend escape_json writes it (bytes >= 0x20 other than " and \ as they are). */
export function escapeJson(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '\b': out += '\\b'; break;
      case '\f': out += '\\f'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      default: {
        const c = ch.codePointAt(0) as number;
        out += c < 0x20 ? `\\u${c.toString(16).padStart(4, '0')}` : ch;
      }
    }
  }
  return `${out}"`;
}

/** strftime("%Y-%m-%d %H:%M:%S %Z", gmtime(t)) as glibc prints it. */
export function formatManifestTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} GMT`;
}

/** A path goes in as "Path" when its bytes are valid UTF-8, else hex-encoded as "Encoded-Path". */
function pathMember(path: string | Buffer): string {
  if (typeof path === 'string') return `"Path": ${escapeJson(path)}`;
  const text = path.toString('utf8');
  // A NUL cannot be in a path; a lossless round trip means valid UTF-8.
  if (Buffer.from(text, 'utf8').equals(path)) return `"Path": ${escapeJson(text)}`;
  return `"Encoded-Path": "${path.toString('hex')}"`;
}

export class ManifestWriter {
  readonly pathname: string;
  private fd = -1;
  private buf = '';
  private firstFile = true;
  private checksumming = true;
  private readonly sha: Hash = cryptoModule().createHash('sha256');

  constructor(directory: string, systemIdentifier: bigint, private readonly fileMode = 0o600) {
    this.pathname = join(directory, 'backup_manifest');
    this.buf = `{ "PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": ${systemIdentifier},\n"Files": [`;
  }

  /** One file entry; `checksum` is lower-case hex ('' when none). */
  addFile(path: string | Buffer, size: number | bigint, mtimeSeconds: number, algorithm: ChecksumAlgorithm, checksum: string): void {
    this.buf += this.firstFile ? '\n' : ',\n';
    this.firstFile = false;
    this.buf += `{ ${pathMember(path)}, "Size": ${size}, "Last-Modified": "${formatManifestTime(mtimeSeconds)}"`;
    if (this.buf.length > FLUSH_AT) this.flush();
    if (checksum.length > 0 && algorithm !== 'NONE') {
      this.buf += `, "Checksum-Algorithm": "${algorithm}", "Checksum": "${checksum}"`;
    }
    this.buf += ' }';
    if (this.buf.length > FLUSH_AT) this.flush();
  }

  /** The WAL ranges, the manifest checksum, and close. */
  finalize(walRanges: readonly WalRange[]): void {
    this.buf += '\n],\n"WAL-Ranges": [\n';
    walRanges.forEach((r, i) => {
      this.buf += `${i === 0 ? '' : ',\n'}{ "Timeline": ${r.timeline}, "Start-LSN": "${formatLsn(r.startLsn)}", "End-LSN": "${formatLsn(r.endLsn)}" }`;
    });
    this.buf += '\n],\n';
    this.flush();
    this.checksumming = false;
    this.buf += `"Manifest-Checksum": "${this.sha.digest('hex')}"}\n`;
    this.flush();
    try {
      closeSync(this.fd);
    } catch (e) {
      throw new FileError(`could not close file "${this.pathname}": ${strerror(e)}`, this.pathname, { cause: e });
    } finally {
      this.fd = -1;
    }
  }

  /** Give up (on failure): close the file if it is open. */
  abandon(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        /* already failing */
      }
      this.fd = -1;
    }
  }

  private flush(): void {
    if (this.fd < 0) {
      try {
        this.fd = openSync(this.pathname, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, this.fileMode);
      } catch (e) {
        throw new FileError(`could not open file "${this.pathname}": ${strerror(e)}`, this.pathname, { cause: e });
      }
    }
    if (this.buf.length === 0) return;
    const data = Buffer.from(this.buf, 'utf8');
    try {
      let done = 0;
      while (done < data.length) done += writeSync(this.fd, data, done, data.length - done);
    } catch (e) {
      throw new FileError(`could not write file "${this.pathname}": ${strerror(e)}`, this.pathname, { cause: e });
    }
    if (this.checksumming) this.sha.update(data);
    this.buf = '';
  }
}
