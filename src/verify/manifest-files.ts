/**
 * The manifest as the verifier uses it: parsed with src/manifest/parse.ts (any problem is fatal, with
 * pg's text), files looked up by path, each with its "matched" (seen in the backup) and "bad" (wrong
 * size) flags.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { strerror } from '../errors.js';
import { ManifestParseError, parseManifest, type BackupManifest, type ManifestFile } from '../manifest/parse.js';
import { manifestIterationOrder } from './manifest-order.js';
import type { Reporter } from './report.js';

export interface ManifestEntry {
  file: ManifestFile;
  matched: boolean;
  bad: boolean;
}

export interface LoadedManifest {
  manifest: BackupManifest;
  /** Entries in manifest order. */
  entries: ManifestEntry[];
  byPath: Map<string, ManifestEntry>;
  /** Entries in the order pg_verifybackup visits its table of them (manifest-order.ts). */
  hashOrder(): ManifestEntry[];
}

/** should_verify_checksum: seen, of the right size, and with a checksum. */
export function shouldVerifyChecksum(m: ManifestEntry): boolean {
  return m.matched && !m.bad && m.file.checksumAlgorithm !== 'NONE';
}

function readWhole(path: string, reporter: Reporter): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    reporter.fatal(`could not open file "${path}": ${strerror(e)}`);
  }
  try {
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch (e) {
      reporter.fatal(`could not stat file "${path}": ${strerror(e)}`);
    }
    const buf = Buffer.alloc(size);
    let n = 0;
    try {
      while (n < size) {
        const r = readSync(fd, buf, n, size - n, n);
        if (r === 0) break;
        n += r;
      }
    } catch (e) {
      reporter.fatal(`could not read file "${path}": ${strerror(e)}`);
    }
    if (n !== size) reporter.fatal(`could not read file "${path}": read ${n} of ${size}`);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export function loadManifest(path: string, reporter: Reporter): LoadedManifest {
  const bytes = readWhole(path, reporter);
  const entries: ManifestEntry[] = [];
  const byPath = new Map<string, ManifestEntry>();
  let manifest: BackupManifest;
  try {
    manifest = parseManifest(bytes, {
      onFile: (file) => {
        if (byPath.has(file.path)) reporter.fatal(`duplicate path name in backup manifest: "${file.path}"`);
        const e = { file, matched: false, bad: false };
        entries.push(e);
        byPath.set(file.path, e);
      },
    });
  } catch (e) {
    if (e instanceof ManifestParseError) reporter.fatal(e.message);
    throw e;
  }
  let order: ManifestEntry[] | undefined;
  const hashOrder = (): ManifestEntry[] =>
    (order ??= manifestIterationOrder(
      entries.map((e) => e.file.pathBytes),
      bytes.length,
    ).map((i) => entries[i] as ManifestEntry));
  return { manifest, entries, byPath, hashOrder };
}
