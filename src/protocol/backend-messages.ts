/**
 * Decoders for backend (server → client) messages of protocol 3.0.  Each takes the body of one frame
 * (see frame-reader.ts).  Byte strings that are values (DataRow columns) are returned as views of the
 * body, which is safe because bodies are never reused.
 */
import { ProtocolError, type ServerErrorFields } from '../errors.js';
import type { FieldDescription } from './types.js';

/** Backend message type bytes. */
export const BackendMessageType = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  ParameterStatus: 0x53, // 'S'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
  DataRow: 0x44, // 'D'
  CommandComplete: 0x43, // 'C'
  EmptyQueryResponse: 0x49, // 'I'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  ErrorResponse: 0x45, // 'E'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  NegotiateProtocolVersion: 0x76, // 'v'
} as const;

/** Authentication request codes (AUTH_REQ_* in pqcomm.h / protocol.h). */
export const AuthRequest = {
  Ok: 0,
  KerberosV4: 1,
  KerberosV5: 2,
  CleartextPassword: 3,
  Crypt: 4,
  MD5Password: 5,
  SCMCredential: 6,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Reads fields of one message body; every overrun is a ProtocolError naming the message type. */
class BodyReader {
  pos = 0;
  constructor(
    readonly body: Buffer,
    private readonly type: number,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.body.length) throw malformed(this.type);
  }
  int8(): number {
    this.need(1);
    return this.body.readInt8(this.pos++);
  }
  int16(): number {
    this.need(2);
    const v = this.body.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.body.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.body.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.body.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  rest(): Buffer {
    const v = this.body.subarray(this.pos);
    this.pos = this.body.length;
    return v;
  }
  cstring(): string {
    const nul = this.body.indexOf(0, this.pos);
    if (nul < 0) throw malformed(this.type);
    const s = this.body.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }
  done(): void {
    if (this.pos !== this.body.length) throw malformed(this.type);
  }
}

function malformed(type: number): ProtocolError {
  // libpq's text for a body that disagrees with its length word.
  return new ProtocolError(`message contents do not agree with length in message type "${String.fromCharCode(type)}"`);
}

export interface AuthenticationMessage {
  /** One of AuthRequest. */
  code: number;
  /** Bytes after the code: MD5 salt, SASL mechanism list or SASL data. */
  payload: Buffer;
}

export function decodeAuthentication(body: Buffer): AuthenticationMessage {
  const r = new BodyReader(body, BackendMessageType.Authentication);
  const code = r.int32();
  return { code, payload: r.rest() };
}

/** The mechanism list of AuthenticationSASL: NUL-terminated names ending with an empty one. */
export function decodeSaslMechanisms(payload: Buffer): string[] {
  const r = new BodyReader(payload, BackendMessageType.Authentication);
  const out: string[] = [];
  for (;;) {
    const name = r.cstring();
    if (name === '') return out;
    out.push(name);
  }
}

export function decodeParameterStatus(body: Buffer): { name: string; value: string } {
  const r = new BodyReader(body, BackendMessageType.ParameterStatus);
  const name = r.cstring();
  const value = r.cstring();
  r.done();
  return { name, value };
}

/** BackendKeyData: process id and the cancel key (4 bytes in protocol 3.0). */
export function decodeBackendKeyData(body: Buffer): { processId: number; secretKey: Buffer } {
  const r = new BodyReader(body, BackendMessageType.BackendKeyData);
  const processId = r.int32();
  const secretKey = Buffer.from(r.rest());
  if (secretKey.length < 4) throw malformed(BackendMessageType.BackendKeyData);
  return { processId, secretKey };
}

/** ReadyForQuery: transaction status 'I' (idle), 'T' (in transaction) or 'E' (failed transaction). */
export function decodeReadyForQuery(body: Buffer): string {
  const r = new BodyReader(body, BackendMessageType.ReadyForQuery);
  const status = String.fromCharCode(r.int8() & 0xff);
  r.done();
  return status;
}

export function decodeRowDescription(body: Buffer): FieldDescription[] {
  const r = new BodyReader(body, BackendMessageType.RowDescription);
  const n = r.int16();
  const fields: FieldDescription[] = [];
  for (let i = 0; i < n; i++) {
    fields.push({
      name: r.cstring(),
      tableOid: r.uint32(),
      columnAttr: r.int16(),
      typeOid: r.uint32(),
      typeSize: r.int16(),
      typeModifier: r.int32(),
      format: r.int16(),
    });
  }
  r.done();
  return fields;
}

/** DataRow: column values as views of the body, null for SQL NULL. */
export function decodeDataRow(body: Buffer): (Buffer | null)[] {
  const r = new BodyReader(body, BackendMessageType.DataRow);
  const n = r.int16();
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    values.push(len < 0 ? null : r.bytes(len));
  }
  r.done();
  return values;
}

export function decodeCommandComplete(body: Buffer): string {
  const r = new BodyReader(body, BackendMessageType.CommandComplete);
  const tag = r.cstring();
  r.done();
  return tag;
}

/** CopyInResponse / CopyOutResponse / CopyBothResponse. */
export function decodeCopyResponse(type: number, body: Buffer): { format: number; columnFormats: number[] } {
  const r = new BodyReader(body, type);
  const format = r.int8();
  const n = r.int16();
  const columnFormats: number[] = [];
  for (let i = 0; i < n; i++) columnFormats.push(r.int16());
  r.done();
  return { format, columnFormats };
}

const FIELD_KEYS: Record<string, keyof ServerErrorFields> = {
  S: 'severity',
  V: 'severityNonLocalized',
  C: 'code',
  M: 'message',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internalPosition',
  q: 'internalQuery',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'dataType',
  n: 'constraint',
  F: 'file',
  L: 'line',
  R: 'routine',
};

/** ErrorResponse / NoticeResponse: every field, by its protocol code; unknown codes are ignored. */
export function decodeErrorFields(type: number, body: Buffer): ServerErrorFields {
  const r = new BodyReader(body, type);
  const out: Partial<Record<keyof ServerErrorFields, string>> = {};
  for (;;) {
    const code = r.int8();
    if (code === 0) break;
    const value = r.cstring();
    const key = FIELD_KEYS[String.fromCharCode(code)];
    if (key !== undefined) out[key] = value;
  }
  r.done();
  return {
    ...out,
    severity: out.severity ?? out.severityNonLocalized ?? '',
    code: out.code ?? '',
    message: out.message ?? '',
  };
}

export function decodeNegotiateProtocolVersion(body: Buffer): { newestMinor: number; unsupportedOptions: string[] } {
  const r = new BodyReader(body, BackendMessageType.NegotiateProtocolVersion);
  const newestMinor = r.int32();
  const n = r.int32();
  const unsupportedOptions: string[] = [];
  for (let i = 0; i < n; i++) unsupportedOptions.push(r.cstring());
  r.done();
  return { newestMinor, unsupportedOptions };
}
