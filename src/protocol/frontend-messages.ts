/**
 * Encoders for frontend (client → server) messages of protocol 3.0.  Strings are sent as UTF-8.
 */

/** Protocol version 3.0 as sent in the StartupMessage. */
export const PROTOCOL_3_0 = (3 << 16) | 0;
/** Magic "protocol versions" of the special startup packets. */
export const SSL_REQUEST_CODE = (1234 << 16) | 5679;
export const CANCEL_REQUEST_CODE = (1234 << 16) | 5678;

export const FrontendMessageType = {
  Query: 0x51, // 'Q'
  PasswordMessage: 0x70, // 'p' (also SASLInitialResponse and SASLResponse)
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Terminate: 0x58, // 'X'
} as const;

function cstringLength(s: string): number {
  return Buffer.byteLength(s, 'utf8') + 1;
}

function writeCString(buf: Buffer, pos: number, s: string): number {
  const n = buf.write(s, pos, 'utf8');
  buf[pos + n] = 0;
  return pos + n + 1;
}

/** A typed message with room for a `bodyLen`-byte body at offset 5. */
function typed(type: number, bodyLen: number): Buffer {
  const buf = Buffer.allocUnsafe(5 + bodyLen);
  buf[0] = type;
  buf.writeInt32BE(4 + bodyLen, 1);
  return buf;
}

/** StartupMessage with the given parameters, in order. */
export function startupMessage(params: ReadonlyArray<readonly [string, string]>): Buffer {
  let len = 4 + 4 + 1;
  for (const [k, v] of params) len += cstringLength(k) + cstringLength(v);
  const buf = Buffer.allocUnsafe(len);
  buf.writeInt32BE(len, 0);
  buf.writeInt32BE(PROTOCOL_3_0, 4);
  let pos = 8;
  for (const [k, v] of params) {
    pos = writeCString(buf, pos, k);
    pos = writeCString(buf, pos, v);
  }
  buf[pos] = 0;
  return buf;
}

export function sslRequest(): Buffer {
  const buf = Buffer.allocUnsafe(8);
  buf.writeInt32BE(8, 0);
  buf.writeInt32BE(SSL_REQUEST_CODE, 4);
  return buf;
}

/** CancelRequest: process id and the secret key from BackendKeyData. */
export function cancelRequest(processId: number, secretKey: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(12 + secretKey.length);
  buf.writeInt32BE(buf.length, 0);
  buf.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  buf.writeInt32BE(processId, 8);
  secretKey.copy(buf, 12);
  return buf;
}

/** PasswordMessage: cleartext or "md5..." hashed password. */
export function passwordMessage(password: string): Buffer {
  const buf = typed(FrontendMessageType.PasswordMessage, cstringLength(password));
  writeCString(buf, 5, password);
  return buf;
}

export function saslInitialResponse(mechanism: string, data: Buffer): Buffer {
  const buf = typed(FrontendMessageType.PasswordMessage, cstringLength(mechanism) + 4 + data.length);
  const pos = writeCString(buf, 5, mechanism);
  buf.writeInt32BE(data.length, pos);
  data.copy(buf, pos + 4);
  return buf;
}

export function saslResponse(data: Buffer): Buffer {
  const buf = typed(FrontendMessageType.PasswordMessage, data.length);
  data.copy(buf, 5);
  return buf;
}

/** Simple Query. */
export function queryMessage(sql: string): Buffer {
  const buf = typed(FrontendMessageType.Query, cstringLength(sql));
  writeCString(buf, 5, sql);
  return buf;
}

/** The 5-byte header of a CopyData message carrying `length` bytes (send the data after it). */
export function copyDataHeader(length: number): Buffer {
  const buf = Buffer.allocUnsafe(5);
  buf[0] = FrontendMessageType.CopyData;
  buf.writeInt32BE(4 + length, 1);
  return buf;
}

/** A complete CopyData message (copies `data`; use copyDataHeader to avoid the copy). */
export function copyData(data: Buffer): Buffer {
  const buf = typed(FrontendMessageType.CopyData, data.length);
  data.copy(buf, 5);
  return buf;
}

export function copyDone(): Buffer {
  return typed(FrontendMessageType.CopyDone, 0);
}

export function copyFail(message: string): Buffer {
  const buf = typed(FrontendMessageType.CopyFail, cstringLength(message));
  writeCString(buf, 5, message);
  return buf;
}

export function terminate(): Buffer {
  return typed(FrontendMessageType.Terminate, 0);
}
