/**
 * Reconstruction of one relation segment from an INCREMENTAL.<relfile> of the final backup and the
 * chain before it, as reconstruct.c does:
 * - the newest incremental's blocks are all used; its truncation block length (TBL), raised to its
 *   highest listed block + 1, is the output's length;
 * - the older backups are consulted newest first: an incremental contributes the blocks it lists
 *   below the newest TBL that are still missing; the first full file found contributes every missing
 *   block below the newest TBL that it has, and ends the search;
 * - blocks found nowhere are zeros;
 * - when no block came from an incremental file and that full file is exactly TBL blocks long, the
 *   file is copied whole with the chosen copy method instead.
 * The output is assembled in windows of WINDOW_BLOCKS blocks, each with one positional read per
 * source and one write: memory is bounded by the block map (RELSEG_SIZE entries) and two window buffers.
 */
import { fstatSync, openSync, constants as fsConstants, type Stats } from 'node:fs';
import { FileError } from '../errors.js';
import { createChecksummer, type Checksummer, type ChecksumAlgorithm } from '../manifest/checksum.js';
import type { LoadedManifest } from './chain.js';
import { manifestKey } from './chain.js';
import { copyFile, writeAll } from './copy-file.js';
import { fileError, preadFully } from './files.js';
import { closeQuietly, openFullSource, openIncrementalSource, type SourceFile } from './incremental-file.js';
import type { CopyMethod } from './options.js';
import type { CombineLogger } from './report.js';
import type { Writeback } from './writeback.js';

export interface ReconstructRequest {
  /** The final backup's INCREMENTAL.<name>. */
  inputFilename: string;
  outputFilename: string;
  /** The directory's path relative to the backup root, ending in '/' (also the manifest prefix). */
  relativePath: string;
  /** The file name without "INCREMENTAL.". */
  bareFileName: string;
  /** The backups before the final one, oldest first. */
  priorDirs: readonly string[];
  /** Manifests of every backup, oldest first (the final one last). */
  manifests: readonly (LoadedManifest | undefined)[];
  manifestPath: string;
  checksumAlgorithm: ChecksumAlgorithm;
  copyMethod: CopyMethod;
  debug: boolean;
  dryRun: boolean;
  blcksz: number;
  relsegSize: number;
  fileMode: number;
  log: CombineLogger;
  /** Early writeback of the output (the command with its final sync on). */
  writeback?: Writeback | undefined;
}

/** What a reconstruction gives the walk: the manifest checksum ('' when none), the output's stat if it made one. */
export interface Reconstructed {
  checksum: string;
  stat: Stats | undefined;
}

export function reconstructFromIncrementalFile(req: ReconstructRequest): Reconstructed {
  const { blcksz, priorDirs, log } = req;
  const nPrior = priorDirs.length;
  const sources: (SourceFile | undefined)[] = new Array<SourceFile | undefined>(nPrior + 1).fill(undefined);
  const closeAll = () => {
    for (const s of sources) {
      if (s === undefined || s.fd < 0) continue;
      closeQuietly(s.fd);
      s.fd = -1;
    }
  };
  try {
    const latest = openIncrementalSource(req.inputFilename, blcksz, req.relsegSize);
    sources[nPrior] = latest;
    let blockLength = latest.truncationBlockLength;
    for (const b of latest.blockNumbers) if (b >= blockLength) blockLength = b + 1;

    // Which source each block comes from (index + 1; 0: none, a zero block) and at which offset.
    const sourceMap = new Int32Array(blockLength);
    const offsetMap = new Float64Array(blockLength);
    let fullCopyPossible = true;
    latest.blockNumbers.forEach((b, i) => {
      sourceMap[b] = nPrior + 1;
      offsetMap[b] = latest.headerLength + i * blcksz;
      fullCopyPossible = false;
    });

    const tbl = latest.truncationBlockLength;
    let sidx = nPrior;
    let copySourceIndex = -1;
    while (sidx > 0) {
      sidx--;
      const dir = priorDirs[sidx] as string;
      let s = openFullSource(`${dir}/${req.relativePath}${req.bareFileName}`, true);
      if (s === undefined) s = openIncrementalSource(`${dir}/${req.relativePath}INCREMENTAL.${req.bareFileName}`, blcksz, req.relsegSize);
      sources[sidx] = s;
      if (s.headerLength === 0) {
        let size: number;
        try {
          size = fstatSync(s.fd).size;
        } catch (e) {
          throw fileError(`could not stat file "${s.filename}"`, s.filename, e);
        }
        const have = Math.floor(size / blcksz);
        for (let b = 0; b < tbl; b++) {
          if (sourceMap[b] === 0 && b < have) {
            sourceMap[b] = sidx + 1;
            offsetMap[b] = b * blcksz;
          }
        }
        if (fullCopyPossible && tbl * blcksz === size) copySourceIndex = sidx;
        break;
      }
      s.blockNumbers.forEach((b, i) => {
        if (b < tbl && sourceMap[b] === 0) {
          sourceMap[b] = sidx + 1;
          offsetMap[b] = s.headerLength + i * blcksz;
          fullCopyPossible = false;
        }
      });
    }

    // A checksum of the right kind in the copied file's own manifest is reused.
    let algorithm = req.checksumAlgorithm;
    let reused = '';
    if (copySourceIndex >= 0 && req.manifests[copySourceIndex] !== undefined && algorithm !== 'NONE') {
      const mfile = req.manifests[copySourceIndex]?.files.get(manifestKey(req.manifestPath));
      if (mfile === undefined) {
        log.warning(`manifest file "${priorDirs[copySourceIndex]}/backup_manifest" contains no entry for file "${req.manifestPath}"`);
      } else if (mfile.checksumAlgorithm === algorithm) {
        reused = mfile.checksum.toLowerCase();
        algorithm = 'NONE';
      }
    }
    const checksum = createChecksummer(algorithm);
    if (copySourceIndex < 0 && sidx === 0 && (sources[0] as SourceFile).headerLength !== 0) {
      const f = (sources[0] as SourceFile).filename;
      throw new FileError(`full backup contains unexpected incremental file "${f}"`, f);
    }
    const digest = () => (reused !== '' ? reused : algorithm === 'NONE' ? '' : checksum.digest());
    if (copySourceIndex >= 0) {
      const src = (sources[copySourceIndex] as SourceFile).filename;
      const stat = copyFile(src, req.outputFilename, checksum, req.copyMethod, { log, fileMode: req.fileMode, blcksz, dryRun: req.dryRun });
      return { checksum: digest(), stat };
    }
    if (req.debug) debugPlan(req, blockLength, sources, sourceMap, offsetMap, checksum.algorithm);
    const zeroBlocks = countReads(req, blockLength, sources, sourceMap, offsetMap);
    if (!req.dryRun) writeReconstructedFile({ req, blockLength, sources, sourceMap, offsetMap, zeroBlocks, checksum });
    if (zeroBlocks > 0) log.debug(req.dryRun ? `would have zero-filled ${zeroBlocks} blocks` : `zero-filled ${zeroBlocks} blocks`);
    debugReconstruction(req, sources);
    return { checksum: digest(), stat: undefined };
  } finally {
    closeAll();
  }
}

/** The plan lines of -d: ranges of blocks from one source, with the offset of each range's last block. */
function debugPlan(req: ReconstructRequest, blockLength: number, sources: readonly (SourceFile | undefined)[], sourceMap: Int32Array, offsetMap: Float64Array, algorithm: ChecksumAlgorithm): void {
  const { log } = req;
  log.debug(`${req.dryRun ? 'would reconstruct' : 'reconstructing'} "${req.outputFilename}" (${blockLength} blocks, checksum ${algorithm})`);
  let text = '';
  let start = 0;
  let current = 0;
  while (current < blockLength) {
    const s = sourceMap[current] as number;
    if (current + 1 < blockLength && s === sourceMap[current + 1]) {
      current++;
      continue;
    }
    const range = current === start ? `${current}` : `${start}-${current}`;
    text += s === 0 ? ` ${range}:zero` : ` ${range}:${(sources[s - 1] as SourceFile).filename}@${offsetMap[current]}`;
    start = ++current;
    if (current === blockLength || Buffer.byteLength(text) > 1024) {
      log.debug(`reconstruction plan:${text}`);
      text = '';
    }
  }
}

/** Blocks of output assembled in memory and written with one write(2) (and one checksum update). */
const WINDOW_BLOCKS = 32;

let outBuf: Buffer | undefined;
let spanBuf: Buffer | undefined;

/** The first block (lowest block number) of a window whose read came up short, as pg would meet it. */
interface ShortRead {
  block: number;
  source: SourceFile;
  offset: number;
  got: number;
}

interface WriteJob {
  req: ReconstructRequest;
  blockLength: number;
  sources: readonly (SourceFile | undefined)[];
  sourceMap: Int32Array;
  offsetMap: Float64Array;
  zeroBlocks: number;
  checksum: Checksummer;
}

/** Accounting as pg keeps it, block by block (the debug output, dry-run's length check); the zero blocks. */
function countReads(req: ReconstructRequest, blockLength: number, sources: readonly (SourceFile | undefined)[], sourceMap: Int32Array, offsetMap: Float64Array): number {
  let zeroBlocks = 0;
  for (let b = 0; b < blockLength; b++) {
    const si = sourceMap[b] as number;
    if (si === 0) zeroBlocks++;
    else {
      const s = sources[si - 1] as SourceFile;
      s.numBlocksRead++;
      const end = (offsetMap[b] as number) + req.blcksz;
      if (end > s.highestOffsetRead) s.highestOffsetRead = end;
    }
  }
  return zeroBlocks;
}

/** One read a window needs: `want` bytes of `source` at `position` into `dest` at `at`. */
interface SpanRead {
  source: SourceFile;
  dest: Buffer;
  at: number;
  want: number;
  position: number;
}

/**
 * Assemble blocks [w0, w1) of the output in `out`: for each source, one read per span of its blocks
 * (a full file's span lands in place; an incremental's is read into `span` and its blocks copied into
 * place), then zeros.  Yields each read and is given the count read; returns the short read pg would
 * fail on first, if any.  Full files go first so that later copies land on top.
 */
function* assembleWindow(w: WriteJob, w0: number, w1: number, out: Buffer, span: Buffer): Generator<SpanRead, ShortRead | undefined, number> {
  const { sources, sourceMap, offsetMap } = w;
  const { blcksz } = w.req;
  const windowBytes = out.length;
  let short: ShortRead | undefined;
  for (let pass = 0; pass < 2; pass++) {
    for (let si = 1; si <= sources.length; si++) {
      const s = sources[si - 1];
      if (s === undefined || (s.headerLength === 0) !== (pass === 0)) continue;
      let b = w0;
      for (;;) {
        while (b < w1 && sourceMap[b] !== si) b++;
        if (b >= w1) break;
        // A group: this source's next blocks, at ascending offsets within one window's span.
        const first = b;
        const firstOff = offsetMap[b] as number;
        let lastOff = firstOff;
        let last = b;
        for (let k = b + 1; k < w1; k++) {
          if (sourceMap[k] !== si) continue;
          const o = offsetMap[k] as number;
          if (o <= lastOff || o + blcksz - firstOff > windowBytes) break;
          lastOff = o;
          last = k;
        }
        const inPlace = s.headerLength === 0;
        const got: number = yield { source: s, dest: inPlace ? out : span, at: inPlace ? (first - w0) * blcksz : 0, want: lastOff + blcksz - firstOff, position: firstOff };
        for (let k = first; k <= last; k++) {
          if (sourceMap[k] !== si) continue;
          const o = (offsetMap[k] as number) - firstOff;
          if (o + blcksz > got) {
            if (short === undefined || k < short.block) short = { block: k, source: s, offset: o + firstOff, got: Math.max(0, got - o) };
            break;
          }
          if (!inPlace) span.copy(out, (k - w0) * blcksz, o, o + blcksz);
        }
        b = last + 1;
      }
    }
  }
  if (short === undefined && w.zeroBlocks > 0) {
    for (let b = w0; b < w1; b++) if (sourceMap[b] === 0) out.fill(0, (b - w0) * blcksz, (b - w0 + 1) * blcksz);
  }
  return short;
}

function openOutput(req: ReconstructRequest): number {
  try {
    return openSync(req.outputFilename, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, req.fileMode);
  } catch (e) {
    throw fileError(`could not open file "${req.outputFilename}"`, req.outputFilename, e);
  }
}

/** Write the output window by window, synchronously: the bytes of pg's block-by-block loop. */
function writeReconstructedFile(w: WriteJob): void {
  const { req } = w;
  const wfd = openOutput(req);
  const windowBytes = WINDOW_BLOCKS * req.blcksz;
  if (outBuf === undefined || outBuf.length !== windowBytes) outBuf = Buffer.allocUnsafe(windowBytes);
  if (spanBuf === undefined || spanBuf.length !== windowBytes) spanBuf = Buffer.allocUnsafe(windowBytes);
  const out = outBuf;
  try {
    for (let w0 = 0; w0 < w.blockLength; w0 += WINDOW_BLOCKS) {
      const w1 = Math.min(w.blockLength, w0 + WINDOW_BLOCKS);
      const g = assembleWindow(w, w0, w1, out, spanBuf);
      let r = g.next(0);
      while (!r.done) {
        const rd = r.value;
        r = g.next(readSpan(req, rd.source, rd.dest, rd.at, rd.want, rd.position));
      }
      if (r.value !== undefined) throw shortReadError(req, r.value);
      const n = (w1 - w0) * req.blcksz;
      writeAll(wfd, out, n, req.outputFilename, 'could not write file');
      w.checksum.update(out.subarray(0, n));
      req.writeback?.written(req.outputFilename, n);
    }
  } finally {
    closeQuietly(wfd);
  }
}

/** pread of `want` bytes (short only at the end of the file), with pg's read-error text. */
function readSpan(req: ReconstructRequest, s: SourceFile, dest: Buffer, at: number, want: number, position: number): number {
  try {
    return preadFully(s.fd, dest, at, want, position);
  } catch (e) {
    throw readError(req, s, e);
  }
}

function readError(req: ReconstructRequest, s: SourceFile, e: unknown): FileError {
  return req.copyMethod === 'copy-file-range'
    ? fileError(`error while copying file range from "${req.inputFilename}" to "${req.outputFilename}"`, s.filename, e)
    : fileError(`could not read from file "${s.filename}"`, s.filename, e);
}

function shortReadError(req: ReconstructRequest, r: ShortRead): FileError {
  if (req.copyMethod === 'copy-file-range') {
    return new FileError(`unexpected end of file while copying file range from "${req.inputFilename}" to "${req.outputFilename}"`, r.source.filename);
  }
  return new FileError(`could not read from file "${r.source.filename}", offset ${r.offset}: read ${r.got} of ${req.blcksz}`, r.source.filename);
}

/** debug_reconstruction(): per-source counts, and in dry-run mode the check that each source is long enough. */
function debugReconstruction(req: ReconstructRequest, sources: readonly (SourceFile | undefined)[]): void {
  for (const s of sources) {
    if (s === undefined || s.numBlocksRead === 0) continue;
    req.log.debug(`${req.dryRun ? 'would have read' : 'read'} ${s.numBlocksRead} blocks from "${s.filename}"`);
    if (req.dryRun) {
      let size: number;
      try {
        size = fstatSync(s.fd).size;
      } catch (e) {
        throw fileError(`could not stat file "${s.filename}"`, s.filename, e);
      }
      if (size < s.highestOffsetRead) {
        throw new FileError(`file "${s.filename}" is too short: expected ${s.highestOffsetRead}, found ${size}`, s.filename);
      }
    }
  }
}
