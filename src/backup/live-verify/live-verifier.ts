/**
 * `pg_basebackup --verify` (beyond pg): the backup is verified while it streams, from the bytes the
 * server sends, without reading anything back from disk.
 *
 * - Every archive's members are recorded (each file's size and checksum in the manifest's algorithm) as
 *   the server sent them: from the chain's own tar parser when it parses the archive (plain, -R, -D -),
 *   else from a parsing branch beside the chain (tar written as received).
 * - The manifest is tapped too; when it is complete, every file is compared with it, with
 *   pg_verifybackup's wording for tar backups ("checksum mismatch for file ... in archive ...").
 * - WAL (from the WAL receiver with -X stream, or the base archive's pg_wal/ members with -X fetch)
 *   is fed to the WAL reader of src/wal/read as it arrives; every record from the backup's start LSN to
 *   its end LSN is checked (headers, CRC-32C, continuations), as pg_verifybackup has pg_waldump do.
 */
import { createDecompressor, type CompressionAlgorithm } from '../../compression/compression.js';
import type { ByteSink, MemberSink } from '../../archive/streamer.js';
import { TarParserStage } from '../../archive/tar-parser.js';
import { formatLsn, type Lsn, type TimeLineId } from '../../lsn.js';
import type { ChecksumAlgorithm } from '../../manifest/checksum.js';
import { ManifestParseError, parseManifest } from '../../manifest/parse.js';
import { WalReadFatal } from '../../wal/read/segment-source.js';
import { walFormatOfMajor } from '../../wal/read/wal-format.js';
import { XLogReader, type XLogReaderOptions } from '../../wal/read/xlog-reader.js';
import { MemberDigests, type MemberDigest } from './member-digests.js';
import { StreamedWalSource } from './streamed-wal-source.js';

export interface LiveVerifierOptions {
  /** The manifest checksum algorithm the server was asked for (--manifest-checksums; CRC32C by default). */
  algorithm: ChecksumAlgorithm;
  walSegSize: number;
  timeline: TimeLineId;
  startLsn: Lsn;
  serverMajor: number;
  /** WAL is received (-X fetch or stream) and must be checked. */
  checkWal: boolean;
}

/** Sends every write to both sinks; waits for both.  In place when both are. */
class TeeSink implements ByteSink {
  readonly inPlace: boolean;

  constructor(
    private readonly main: ByteSink,
    private readonly side: ByteSink,
  ) {
    this.inPlace = main.inPlace === true && side.inPlace === true;
  }

  write(buf: Buffer): void | Promise<void> {
    const a = this.main.write(buf);
    const b = this.side.write(buf);
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Promise.all([a, b]).then(() => undefined);
  }

  async finish(): Promise<void> {
    await this.side.finish();
    await this.main.finish();
  }

  async abort(err?: unknown): Promise<void> {
    await Promise.allSettled([this.side.abort(err), this.main.abort(err)]);
  }
}

/** Collects the manifest bytes (a manifest is small: about 150 bytes a file). */
class ManifestCollector implements ByteSink {
  readonly pieces: Buffer[] = [];
  done = false;
  write(buf: Buffer): void {
    this.pieces.push(Buffer.from(buf));
  }
  async finish(): Promise<void> {
    this.done = true;
  }
  async abort(): Promise<void> {}
}

function archiveCompressionOf(name: string): CompressionAlgorithm {
  if (name.endsWith('.gz')) return 'gzip';
  if (name.endsWith('.lz4')) return 'lz4';
  if (name.endsWith('.zst')) return 'zstd';
  return 'none';
}

export class LiveVerifier {
  private readonly digests = new Map<string, MemberDigest>();
  private readonly manifest = new ManifestCollector();
  private readonly wal: StreamedWalSource | undefined;
  private readonly readerOptions: XLogReaderOptions | undefined;
  private readonly walCheck: Promise<string[]> | undefined;

  constructor(private readonly o: LiveVerifierOptions) {
    const format = walFormatOfMajor(o.serverMajor);
    if (o.checkWal && format !== undefined) {
      this.wal = new StreamedWalSource({ walSegSize: o.walSegSize, timeline: o.timeline });
      this.readerOptions = { source: this.wal, walSegSize: o.walSegSize, timeline: o.timeline, endPtr: 0n, format };
      this.walCheck = this.readWal(this.readerOptions);
      this.walCheck.catch(() => undefined);
    }
  }

  /**
   * The member sink that records an archive's files (and hands -X fetch's WAL members to the WAL
   * check).  The archive chain feeds it from its own tar parser when it parses the archive; otherwise
   * tapArchive() gives it a parser of its own beside the chain.
   */
  membersOf(archiveName: string, spcLocation: string | undefined): MemberSink {
    const oid = /^(\d+)\.tar/.exec(archiveName)?.[1];
    const prefix = spcLocation === undefined ? '' : `pg_tblspc/${oid ?? archiveName}/`;
    return new MemberDigests({
      archive: archiveName,
      prefix,
      algorithm: this.o.algorithm,
      digests: this.digests,
      walData: spcLocation === undefined && this.wal !== undefined ? (segment, offset, data) => this.walSegmentData(segment, offset, data) : undefined,
    });
  }

  /** The head of an archive's chain (one that does not parse it), with a parsing branch for `members` beside it. */
  tapArchive(archiveName: string, members: MemberSink, head: ByteSink): ByteSink {
    let side: ByteSink = new TarParserStage(members);
    const compression = archiveCompressionOf(archiveName);
    if (compression !== 'none') side = createDecompressor(compression, side);
    return new TeeSink(head, side);
  }

  /** The manifest's sink, with the manifest also kept for the comparison. */
  tapManifest(sink: ByteSink | undefined): ByteSink {
    return sink === undefined ? this.manifest : new TeeSink(sink, this.manifest);
  }

  /** WAL written into segment `segment` at `offset` (the WAL receiver with -X stream, or -X fetch's pg_wal/ members). */
  walSegmentData(segment: string, offset: number, data: Buffer): void | Promise<void> {
    const perId = 0x100000000n / BigInt(this.o.walSegSize);
    const segNo = BigInt(`0x${segment.slice(8, 16)}`) * perId + BigInt(`0x${segment.slice(16)}`);
    if (parseInt(segment.slice(0, 8), 16) !== this.o.timeline) return undefined;
    return this.wal?.push(segNo * BigInt(this.o.walSegSize) + BigInt(offset), data);
  }

  private async readWal(opts: XLogReaderOptions): Promise<string[]> {
    const reader = new XLogReader(opts);
    const failure = (text: string): string[] => {
      // Reading goes on until the stream ends; what fails at or past the end LSN is not part of the backup.
      if (opts.endPtr !== 0n && reader.endRecPtr >= opts.endPtr) return [];
      return [`WAL parsing failed for timeline ${this.o.timeline}`, text];
    };
    try {
      const first = await reader.findNextRecord(this.o.startLsn);
      if (first === undefined) return failure(reader.errorMessage ?? `could not find a valid record after ${formatLsn(this.o.startLsn)}`);
      while ((await reader.readRecord()) !== undefined) {
        // each record is checked while it is read
      }
      if (reader.errorMessage !== undefined) return failure(`error in WAL record at ${formatLsn(reader.readRecPtr)}: ${reader.errorMessage}`);
      return [];
    } catch (e) {
      if (e instanceof WalReadFatal) return failure(e.message);
      throw e;
    } finally {
      await reader.close();
    }
  }

  /**
   * After the backup's end LSN is known and all WAL was passed on: the problems found, with pg's
   * wording, the first being the one to report (empty: the backup is verified).
   */
  async finish(endLsn: Lsn): Promise<string[]> {
    const problems: string[] = [];
    if (this.readerOptions !== undefined && this.wal !== undefined) {
      this.readerOptions.endPtr = endLsn;
      this.wal.end();
    }
    if (!this.manifest.done) problems.push('backup manifest was not received');
    else {
      try {
        const m = parseManifest(Buffer.concat(this.manifest.pieces));
        for (const f of m.files) {
          const got = this.digests.get(f.path);
          const archive = this.archiveOfPath(f.path);
          if (got === undefined) {
            if (f.path.startsWith('pg_wal/')) continue; // what pg_wal holds depends on -X; pg_verifybackup ignores it
            problems.push(`file "${f.path}" is present in the manifest but not in archive "${archive}"`);
            continue;
          }
          this.digests.delete(f.path);
          if (got.size !== f.size) {
            problems.push(`file "${f.path}" has size ${got.size} in archive "${got.archive}" but size ${f.size} in the manifest`);
          } else if (f.checksumAlgorithm === this.o.algorithm && f.checksum !== '' && got.checksum !== f.checksum) {
            problems.push(`checksum mismatch for file "${f.path}" in archive "${got.archive}"`);
          }
        }
        for (const [path, d] of this.digests) if (!path.startsWith('pg_wal/')) problems.push(`file "${path}" is present in archive "${d.archive}" but not in the manifest`);
      } catch (e) {
        if (!(e instanceof ManifestParseError)) throw e;
        problems.push(e.message);
      }
    }
    if (this.walCheck !== undefined) problems.push(...(await this.walCheck));
    return problems;
  }

  /** Stop the WAL check (the backup failed). */
  async abort(): Promise<void> {
    await this.wal?.close();
  }

  private archiveOfPath(path: string): string {
    const m = /^pg_tblspc\/(\d+)\//.exec(path);
    return m ? `${m[1]}.tar` : 'base.tar';
  }
}
