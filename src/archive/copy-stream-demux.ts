/**
 * The demultiplexer of the single BASE_BACKUP COPY stream of servers 15+, after pg_basebackup.c's
 * ReceiveArchiveStreamChunk().  Each CopyData payload starts with a type byte:
 *
 *   'n' cstring archive name, cstring spclocation ("" for the main data directory): a new archive
 *   'd' bytes: archive data, or manifest data once 'm' was seen
 *   'p' Int64: bytes done so far (progress)
 *   'm' nothing: the backup manifest follows
 *
 * with PostgreSQL's checks and messages.  The handler makes the sinks: an archive's sink is
 * finished (and awaited) before the next archive starts; at the end, the manifest's sink is
 * finished before the last archive's, so that a manifest injected into a tar archive (`-D -`)
 * lands before that archive's trailer, as in ReceiveArchiveStream().
 */
import { PgBasebackupError, ProtocolError } from '../errors.js';
import { abortQuietly, type ByteSink } from './streamer.js';

export interface ArchiveStreamHandler {
  /**
   * A new archive begins.  Return its sink, or `undefined` when archives are not received here
   * (a backup target): then archive data is "unexpected payload data", as in pg.
   */
  startArchive(name: string, spcLocation: string | undefined): ByteSink | undefined | Promise<ByteSink | undefined>;
  /** A progress message: total bytes done so far. */
  progress?(bytesDone: bigint): void;
  /** The manifest begins; return its sink, or `undefined` when it is not received here. */
  startManifest(): ByteSink | undefined | Promise<ByteSink | undefined>;
}

const NUL = 0;

/** ReportCopyDataParseError(): the type byte is printed as a (signed) C char. */
function malformed(payload: Buffer): ProtocolError {
  if (payload.length === 0) return new ProtocolError('empty COPY message');
  const type = payload.readInt8(0);
  return new ProtocolError(`malformed COPY message of type ${type}, length ${payload.length}`);
}

/** GetCopyDataString(): a NUL-terminated string from `cursor`; returns it and the new cursor. */
function readCString(payload: Buffer, cursor: number): [string, number] {
  const end = payload.indexOf(NUL, cursor);
  if (end === -1) throw malformed(payload);
  return [payload.toString('utf8', cursor, end), end + 1];
}

function expectEnd(payload: Buffer, cursor: number): void {
  if (cursor !== payload.length) throw malformed(payload);
}

/** Finish a sink; if that fails, abort it so that nothing stays open, and rethrow. */
async function finishOrAbort(sink: ByteSink): Promise<void> {
  try {
    await sink.finish();
  } catch (err) {
    await abortQuietly(sink, err);
    throw err;
  }
}

export class CopyStreamDemux {
  private archive: ByteSink | undefined;
  private manifest: ByteSink | undefined;
  private manifestStarted = false;
  private archiveCount = 0;
  private done = false;

  constructor(private readonly handler: ArchiveStreamHandler) {}

  /** Number of 'n' messages seen so far. */
  get archivesStarted(): number {
    return this.archiveCount;
  }

  /**
   * Handle one CopyData payload (the driver awaits the result before reading the next one).
   * `transient`: the payload is a view of memory reused after this call; archive data then goes to a
   * sink that is not `inPlace` as a copy.
   */
  write(payload: Buffer, transient = false): void | Promise<void> {
    if (this.done) throw new PgBasebackupError('PGBB_INTERNAL', 'COPY data after the end of the archive stream');
    if (payload.length === 0) throw malformed(payload);
    switch (payload[0]) {
      case 0x6e: // 'n'
        return this.newArchive(payload);
      case 0x64: {
        // 'd'
        const sink = this.manifest ?? this.archive;
        if (sink === undefined) throw new ProtocolError('unexpected payload data');
        return sink.write(transient && sink.inPlace !== true ? Buffer.from(payload.subarray(1)) : payload.subarray(1));
      }
      case 0x70: {
        // 'p'
        if (payload.length < 9) throw malformed(payload);
        const done = payload.readBigUInt64BE(1);
        expectEnd(payload, 9);
        this.handler.progress?.(done);
        return undefined;
      }
      case 0x6d: // 'm'
        expectEnd(payload, 1);
        return this.startManifest();
      default:
        throw malformed(payload);
    }
  }

  private newArchive(payload: Buffer): void | Promise<void> {
    this.archiveCount++;
    if (this.manifestStarted) throw new ProtocolError('archives must precede manifest');
    const [name, afterName] = readCString(payload, 1);
    const [location, afterLocation] = readCString(payload, afterName);
    expectEnd(payload, afterLocation);
    if (name === '' || name.startsWith('.') || name.includes('/') || name.includes('\\')) {
      throw new ProtocolError(`invalid archive name: "${name}"`);
    }
    const spcLocation = location === '' ? undefined : location;
    const previous = this.archive;
    this.archive = undefined;
    if (previous === undefined) return this.openArchive(name, spcLocation);
    return finishOrAbort(previous).then(() => this.openArchive(name, spcLocation));
  }

  private openArchive(name: string, spcLocation: string | undefined): void | Promise<void> {
    const sink = this.handler.startArchive(name, spcLocation);
    if (sink instanceof Promise) {
      return sink.then((s) => {
        this.archive = s;
      });
    }
    this.archive = sink;
    return undefined;
  }

  private startManifest(): void | Promise<void> {
    this.manifestStarted = true;
    const sink = this.handler.startManifest();
    if (sink instanceof Promise) {
      return sink.then((s) => {
        this.manifest = s;
      });
    }
    this.manifest = sink;
    return undefined;
  }

  /** The COPY stream ended (CopyDone): finish the manifest's sink, then the last archive's. */
  async end(): Promise<void> {
    this.done = true;
    const manifest = this.manifest;
    const archive = this.archive;
    this.manifest = undefined;
    this.archive = undefined;
    try {
      if (manifest !== undefined) await finishOrAbort(manifest);
    } catch (err) {
      await abortQuietly(archive, err);
      throw err;
    }
    if (archive !== undefined) await finishOrAbort(archive);
  }

  /** Give up: abort whatever sinks are open. */
  async abort(err?: unknown): Promise<void> {
    this.done = true;
    const manifest = this.manifest;
    const archive = this.archive;
    this.manifest = undefined;
    this.archive = undefined;
    await abortQuietly(manifest, err);
    await abortQuietly(archive, err);
  }
}
