import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import {
  cancelRequest,
  copyData,
  copyDataHeader,
  copyDone,
  copyFail,
  passwordMessage,
  queryMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
  terminate,
} from '../../../src/protocol/frontend-messages.js';

describe('frontend messages (pg-protocol as oracle)', () => {
  it('SSLRequest', () => expect(sslRequest()).toEqual(serialize.requestSsl()));
  it('PasswordMessage', () => expect(passwordMessage('sécret')).toEqual(serialize.password('sécret')));
  it('SASLInitialResponse', () => {
    const data = 'n,,n=,r=abc';
    expect(saslInitialResponse('SCRAM-SHA-256', Buffer.from(data))).toEqual(
      serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', data),
    );
  });
  it('SASLResponse', () => {
    const data = 'c=biws,r=abc,p=xyz';
    expect(saslResponse(Buffer.from(data))).toEqual(serialize.sendSCRAMClientFinalMessage(data));
  });
  it('Query', () => expect(queryMessage('SELECT ’1’')).toEqual(serialize.query('SELECT ’1’')));
  it('CopyData', () => expect(copyData(Buffer.from('abc'))).toEqual(serialize.copyData(Buffer.from('abc'))));
  it('CopyData header + payload', () => {
    const payload = Buffer.from('payload');
    expect(Buffer.concat([copyDataHeader(payload.length), payload])).toEqual(serialize.copyData(payload));
  });
  it('CopyDone', () => expect(copyDone()).toEqual(serialize.copyDone()));
  it('CopyFail', () => expect(copyFail('stop')).toEqual(serialize.copyFail('stop')));
  it('Terminate', () => expect(terminate()).toEqual(serialize.end()));
  it('CancelRequest', () => {
    const key = Buffer.alloc(4);
    key.writeInt32BE(-123456789);
    expect(cancelRequest(4242, key)).toEqual(serialize.cancel(4242, -123456789));
  });
});

describe('StartupMessage', () => {
  it('encodes protocol 3.0 and the parameters in order, without client_encoding', () => {
    const buf = startupMessage([
      ['user', 'postgres'],
      ['database', 'replication'],
      ['replication', 'true'],
      ['application_name', 'pg_basebackup'],
    ]);
    const body = 'user\0postgres\0database\0replication\0replication\0true\0application_name\0pg_basebackup\0\0';
    const expected = Buffer.alloc(8 + body.length);
    expected.writeInt32BE(expected.length, 0);
    expected.writeInt32BE(196608, 4);
    expected.write(body, 8, 'latin1');
    expect(buf).toEqual(expected);
  });

  it('counts UTF-8 bytes in the length word', () => {
    const buf = startupMessage([['user', 'jöe']]);
    expect(buf.readInt32BE(0)).toBe(buf.length);
    expect(buf.length).toBe(8 + 'user\0'.length + Buffer.byteLength('jöe') + 1 + 1);
  });
});
