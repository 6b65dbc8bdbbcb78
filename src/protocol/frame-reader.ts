/**
 * Incremental framing of backend messages: 1 type byte, an Int32 length that counts itself, then the body.
 *
 * Bodies handed out are never views into memory that anybody reuses:
 * - a message that lies inside one chunk is a `subarray` of that chunk when the chunk is a fresh
 *   allocation (`transient` false: a 'data' event's buffer), and a copy of exactly its size when the
 *   chunk is a reused read buffer (`transient` true: in-place-reads.ts) that the next read overwrites;
 * - a message that spans chunks is assembled in a newly allocated Buffer of exactly its size.
 * A consumer may therefore keep any body (e.g. queue CopyData for a slow writer) without copying.
 * The one exception is asked for: an `inPlace` consumer passed to push() is offered each complete
 * message lying inside the chunk as a view of it, before any copy (backend-channel.ts's CopyData pump).
 */
import { ProtocolError } from '../errors.js';

export interface BackendFrame {
  /** Message type byte, e.g. 0x64 ('d') for CopyData. */
  type: number;
  body: Buffer;
}

/** Type byte + Int32 length. */
export const FRAME_HEADER_LEN = 5;
/** Largest body accepted (PostgreSQL's MaxAllocSize is 1 GB - 1). */
export const MAX_BODY_LEN = 0x3fffffff;
/**
 * A spanning body up to this size is assembled in a buffer allocated when its header arrives (one
 * copy); a longer one from copies of its pieces, so that a length that lies costs at most this much
 * beyond the bytes that really arrive.
 */
export const BODY_AHEAD_LIMIT = 1024 * 1024;
/** A body spanning chunks, offered in place, is assembled in a reused buffer up to this size. */
export const IN_PLACE_BODY_LIMIT = 128 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Takes a complete message that lies inside the chunk being pushed, in place: `body` is a view of
 * that chunk, valid only during the call.  Returns false to have it framed as usual (copied when the
 * chunk is transient, and emitted).
 */
export type InPlaceFrame = (type: number, body: Buffer, transient: boolean) => boolean;

export class FrameReader {
  /** Partial header carried over from the previous chunk. */
  private readonly header = Buffer.alloc(FRAME_HEADER_LEN);
  private headerFill = 0;
  /**
   * Body being assembled across chunks: views of fresh chunks, or copies of the pieces of transient
   * ones, joined into one new Buffer when complete.  Nothing is allocated ahead for the announced
   * length (beyond BODY_AHEAD_LIMIT for transient chunks), so a length that lies costs only the bytes
   * that really arrive.
   */
  private body: Buffer[] | undefined;
  /** Transient chunks, body up to BODY_AHEAD_LIMIT: the body's own buffer, filled as pieces arrive. */
  private ahead: Buffer | undefined;
  /**
   * `ahead` is `scratch`: a body offered in place is assembled in this reused buffer (allocated once,
   * IN_PLACE_BODY_LIMIT bytes), and copied out only if the in-place consumer declines it.
   */
  private aheadIsScratch = false;
  private scratch: Buffer | undefined;
  private bodyLen = 0;
  private bodyType = 0;
  private bodyFill = 0;

  /** Bytes received that do not yet form a complete message. */
  get pendingBytes(): number {
    return this.headerFill + (this.body ? FRAME_HEADER_LEN + this.bodyFill : 0);
  }

  /**
   * Feed one socket chunk; `emit` is called once per complete message, in order.  `transient`: the
   * chunk's memory is reused after this call (nothing handed out or kept may point into it).
   */
  push(chunk: Buffer, emit: (frame: BackendFrame) => void, transient = false, inPlace?: InPlaceFrame): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.body !== undefined) {
        pos = this.fillBody(chunk, pos, emit, transient, inPlace);
        continue;
      }
      if (this.headerFill > 0 || end - pos < FRAME_HEADER_LEN) {
        const n = Math.min(FRAME_HEADER_LEN - this.headerFill, end - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < FRAME_HEADER_LEN) return;
        this.headerFill = 0;
        this.startBody(this.header, 0, emit, transient, inPlace);
        continue;
      }
      // Fast path: the header is inside this chunk.
      const type = chunk[pos] as number;
      const bodyLen = bodyLength(type, chunk.readInt32BE(pos + 1));
      const bodyStart = pos + FRAME_HEADER_LEN;
      if (end - bodyStart >= bodyLen) {
        const view = chunk.subarray(bodyStart, bodyStart + bodyLen);
        pos = bodyStart + bodyLen;
        if (inPlace !== undefined && bodyLen > 0 && inPlace(type, view, transient)) continue;
        emit({ type, body: bodyLen === 0 ? EMPTY : transient ? copyOf(view) : view });
      } else {
        this.beginBody(type, bodyLen, transient, inPlace);
        pos = this.fillBody(chunk, bodyStart, emit, transient, inPlace);
      }
    }
  }

  private beginBody(type: number, bodyLen: number, transient: boolean, inPlace: InPlaceFrame | undefined): void {
    this.body = [];
    this.aheadIsScratch = transient && inPlace !== undefined && bodyLen <= IN_PLACE_BODY_LIMIT;
    if (this.aheadIsScratch) this.ahead = this.scratch ??= Buffer.allocUnsafeSlow(IN_PLACE_BODY_LIMIT);
    else this.ahead = transient && bodyLen <= BODY_AHEAD_LIMIT ? Buffer.allocUnsafe(bodyLen) : undefined;
    this.bodyLen = bodyLen;
    this.bodyType = type;
    this.bodyFill = 0;
  }

  private startBody(header: Buffer, at: number, emit: (frame: BackendFrame) => void, transient: boolean, inPlace: InPlaceFrame | undefined): void {
    const type = header[at] as number;
    const bodyLen = bodyLength(type, header.readInt32BE(at + 1));
    if (bodyLen === 0) {
      emit({ type, body: EMPTY });
      return;
    }
    this.beginBody(type, bodyLen, transient, inPlace);
  }

  private fillBody(chunk: Buffer, pos: number, emit: (frame: BackendFrame) => void, transient: boolean, inPlace: InPlaceFrame | undefined): number {
    const parts = this.body as Buffer[];
    const n = Math.min(this.bodyLen - this.bodyFill, chunk.length - pos);
    if (n > 0) {
      // A body that began in a transient chunk was given its buffer then; a later chunk may be fresh.
      if (this.ahead !== undefined) chunk.copy(this.ahead, this.bodyFill, pos, pos + n);
      else parts.push(transient ? copyOf(chunk.subarray(pos, pos + n)) : chunk.subarray(pos, pos + n));
    }
    this.bodyFill += n;
    if (this.bodyFill === this.bodyLen) {
      const ahead = this.ahead;
      this.body = undefined;
      this.ahead = undefined;
      if (this.aheadIsScratch) {
        this.aheadIsScratch = false;
        const view = (ahead as Buffer).subarray(0, this.bodyLen);
        if (inPlace === undefined || !inPlace(this.bodyType, view, true)) emit({ type: this.bodyType, body: copyOf(view) });
        return pos + n;
      }
      // Always a new allocation of exactly the body's size (never a view of a reused buffer).
      emit({ type: this.bodyType, body: ahead ?? Buffer.concat(parts, this.bodyLen) });
    }
    return pos + n;
  }
}

/** A new buffer (never pooled memory that is reused) holding a copy of `view`. */
function copyOf(view: Buffer): Buffer {
  const b = Buffer.allocUnsafe(view.length);
  view.copy(b);
  return b;
}

/** libpq's VALID_LONG_MESSAGE_TYPE: the messages that may exceed 30000 bytes ('T', 'D', 'd', 'V', 'E', 'N', 'A'). */
const LONG_MESSAGE_TYPES = new Set([0x54, 0x44, 0x64, 0x56, 0x45, 0x4e, 0x41]);
/** libpq treats any other message longer than this as lost synchronization. */
const MAX_SHORT_MESSAGE_LEN = 30000;

function bodyLength(type: number, length: number): number {
  if (length < 4 || length - 4 > MAX_BODY_LEN || (length > MAX_SHORT_MESSAGE_LEN && !LONG_MESSAGE_TYPES.has(type))) {
    // libpq's handleSyncLoss() text.
    throw new ProtocolError(`lost synchronization with server: got message type "${String.fromCharCode(type)}", length ${length}`);
  }
  return length - 4;
}
