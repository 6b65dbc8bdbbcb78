/**
 * Messages inside the CopyBoth stream of START_REPLICATION (PROTO "Streaming Replication Protocol"):
 * server 'w' XLogData and 'k' primary keepalive; client 'r' standby status update.
 * Integers are big-endian Int64; times are microseconds since 2000-01-01 00:00:00 UTC.
 */
import { ProtocolError } from '../errors.js';
import type { Lsn } from '../lsn.js';

export const XLOGDATA_HEADER_LEN = 25; // 'w' + dataStart + walEnd + sendTime
export const KEEPALIVE_LEN = 18; // 'k' + walEnd + sendTime + replyRequested
export const STATUS_UPDATE_LEN = 34; // 'r' + write + flush + apply + clock + replyRequested

/** Microseconds between the Unix epoch and the PostgreSQL epoch (2000-01-01). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

export function pgNow(nowMs: number = Date.now()): bigint {
  return BigInt(Math.floor(nowMs)) * 1000n - PG_EPOCH_OFFSET_US;
}

export type WalStreamMessage =
  | { kind: 'xlogdata'; dataStart: Lsn; walEnd: Lsn; sendTime: bigint; data: Buffer }
  | { kind: 'keepalive'; walEnd: Lsn; sendTime: bigint; replyRequested: boolean };

export function parseWalStreamMessage(buf: Buffer): WalStreamMessage {
  const type = buf[0];
  if (type === 0x77 /* w */) {
    if (buf.length < XLOGDATA_HEADER_LEN) throw new ProtocolError('streaming header too small: ' + buf.length);
    return {
      kind: 'xlogdata',
      dataStart: buf.readBigUInt64BE(1),
      walEnd: buf.readBigUInt64BE(9),
      sendTime: buf.readBigInt64BE(17),
      data: buf.subarray(XLOGDATA_HEADER_LEN),
    };
  }
  if (type === 0x6b /* k */) {
    if (buf.length < KEEPALIVE_LEN) throw new ProtocolError('streaming header too small: ' + buf.length);
    return { kind: 'keepalive', walEnd: buf.readBigUInt64BE(1), sendTime: buf.readBigInt64BE(9), replyRequested: buf[17] !== 0 };
  }
  throw new ProtocolError(`unrecognized streaming header: "${type === undefined ? '' : String.fromCharCode(type)}"`);
}

export function buildStatusUpdate(write: Lsn, flush: Lsn, apply: Lsn, nowUs: bigint, replyRequested = false): Buffer {
  const b = Buffer.alloc(STATUS_UPDATE_LEN);
  b[0] = 0x72; // 'r'
  b.writeBigUInt64BE(write, 1);
  b.writeBigUInt64BE(flush, 9);
  b.writeBigUInt64BE(apply, 17);
  b.writeBigInt64BE(nowUs, 25);
  b[33] = replyRequested ? 1 : 0;
  return b;
}
