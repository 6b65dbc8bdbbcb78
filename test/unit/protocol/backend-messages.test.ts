import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import {
  AuthRequest,
  BackendMessageType as T,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDataRow,
  decodeErrorFields,
  decodeNegotiateProtocolVersion,
  decodeParameterStatus,
  decodeReadyForQuery,
  decodeRowDescription,
  decodeSaslMechanisms,
} from '../../../src/protocol/backend-messages.js';
import { cstr, int16, int32 } from './frames.js';

describe('backend message decoders', () => {
  it('Authentication: code and payload', () => {
    expect(decodeAuthentication(int32(0))).toEqual({ code: AuthRequest.Ok, payload: Buffer.alloc(0) });
    const md5 = decodeAuthentication(Buffer.concat([int32(5), Buffer.from([1, 2, 3, 4])]));
    expect(md5.code).toBe(AuthRequest.MD5Password);
    expect([...md5.payload]).toEqual([1, 2, 3, 4]);
    expect(() => decodeAuthentication(Buffer.from([0, 0]))).toThrow(ProtocolError);
  });

  it('AuthenticationSASL mechanism list', () => {
    const payload = Buffer.concat([cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), Buffer.from([0])]);
    expect(decodeSaslMechanisms(payload)).toEqual(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
    expect(() => decodeSaslMechanisms(cstr('SCRAM-SHA-256'))).toThrow(ProtocolError);
  });

  it('ParameterStatus', () => {
    expect(decodeParameterStatus(Buffer.concat([cstr('server_version'), cstr('16.4 (Debian)')]))).toEqual({
      name: 'server_version',
      value: '16.4 (Debian)',
    });
    expect(() => decodeParameterStatus(Buffer.concat([cstr('a'), cstr('b'), Buffer.from('x')]))).toThrow(
      'message contents do not agree with length in message type "S"',
    );
  });

  it('BackendKeyData', () => {
    const k = decodeBackendKeyData(Buffer.concat([int32(1234), int32(-5)]));
    expect(k.processId).toBe(1234);
    expect(k.secretKey.readInt32BE(0)).toBe(-5);
    expect(() => decodeBackendKeyData(int32(1))).toThrow(ProtocolError);
  });

  it('ReadyForQuery', () => {
    expect(decodeReadyForQuery(Buffer.from('T'))).toBe('T');
    expect(() => decodeReadyForQuery(Buffer.from('TT'))).toThrow(ProtocolError);
  });

  it('RowDescription with unsigned OIDs', () => {
    const field = (name: string, oid: number) =>
      Buffer.concat([cstr(name), Buffer.from([0xff, 0xff, 0xff, 0xfe]), int16(3), int32(oid), int16(-1), int32(-1), int16(0)]);
    const body = Buffer.concat([int16(2), field('systemid', 25), field('xlogpos', 25)]);
    expect(decodeRowDescription(body)).toEqual([
      { name: 'systemid', tableOid: 0xfffffffe, columnAttr: 3, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 },
      { name: 'xlogpos', tableOid: 0xfffffffe, columnAttr: 3, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 },
    ]);
    expect(() => decodeRowDescription(body.subarray(0, body.length - 1))).toThrow(ProtocolError);
  });

  it('DataRow: values, NULLs and empty strings; values are views of the body', () => {
    const body = Buffer.concat([int16(3), int32(3), Buffer.from('abc'), int32(-1), int32(0)]);
    const values = decodeDataRow(body);
    expect(values.map((v) => (v === null ? null : v.toString()))).toEqual(['abc', null, '']);
    expect((values[0] as Buffer).buffer).toBe(body.buffer);
    expect(() => decodeDataRow(Buffer.concat([int16(1), int32(5), Buffer.from('abc')]))).toThrow(ProtocolError);
  });

  it('CommandComplete', () => {
    expect(decodeCommandComplete(cstr('SELECT 1'))).toBe('SELECT 1');
    expect(() => decodeCommandComplete(Buffer.from('SELECT'))).toThrow(ProtocolError);
  });

  it('Copy responses', () => {
    const body = Buffer.concat([Buffer.from([1]), int16(2), int16(1), int16(0)]);
    expect(decodeCopyResponse(T.CopyOutResponse, body)).toEqual({ format: 1, columnFormats: [1, 0] });
    expect(decodeCopyResponse(T.CopyBothResponse, Buffer.concat([Buffer.from([0]), int16(0)]))).toEqual({
      format: 0,
      columnFormats: [],
    });
    expect(() => decodeCopyResponse(T.CopyInResponse, Buffer.concat([Buffer.from([0]), int16(1)]))).toThrow(
      'message type "G"',
    );
  });

  it('ErrorResponse: all fields', () => {
    const codes = 'SVCMDHPpqWstcdnFLR';
    const parts = [...codes].map((c) => Buffer.concat([Buffer.from(c), cstr(`v${c}`)]));
    const fields = decodeErrorFields(T.ErrorResponse, Buffer.concat([...parts, Buffer.from('Zignored\0'), Buffer.from([0])]));
    expect(fields).toEqual({
      severity: 'vS',
      severityNonLocalized: 'vV',
      code: 'vC',
      message: 'vM',
      detail: 'vD',
      hint: 'vH',
      position: 'vP',
      internalPosition: 'vp',
      internalQuery: 'vq',
      where: 'vW',
      schema: 'vs',
      table: 'vt',
      column: 'vc',
      dataType: 'vd',
      constraint: 'vn',
      file: 'vF',
      line: 'vL',
      routine: 'vR',
    });
  });

  it('NoticeResponse without S falls back to V; missing fields are absent', () => {
    const body = Buffer.concat([Buffer.from('V'), cstr('WARNING'), Buffer.from('M'), cstr('careful'), Buffer.from([0])]);
    const f = decodeErrorFields(T.NoticeResponse, body);
    expect(f).toEqual({ severity: 'WARNING', severityNonLocalized: 'WARNING', code: '', message: 'careful' });
    expect('detail' in f).toBe(false);
    expect(() => decodeErrorFields(T.NoticeResponse, body.subarray(0, body.length - 1))).toThrow(ProtocolError);
  });

  it('NegotiateProtocolVersion', () => {
    const body = Buffer.concat([int32(0), int32(2), cstr('_pq_.a'), cstr('_pq_.b')]);
    expect(decodeNegotiateProtocolVersion(body)).toEqual({ newestMinor: 0, unsupportedOptions: ['_pq_.a', '_pq_.b'] });
  });
});
