import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../src/errors.js';
import { md5PasswordResponse } from '../../../src/protocol/auth-md5.js';
import { SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramClient } from '../../../src/protocol/auth-scram.js';
import { saslprep } from '../../../src/protocol/saslprep.js';
import { parseServerVersionNum } from '../../../src/protocol/server-version.js';
import { certificateSignatureHash, tlsServerEndPointHash } from '../../../src/protocol/tls-server-end-point.js';

const here = new URL('.', import.meta.url).pathname;
const der = (file: string) => new X509Certificate(readFileSync(file)).raw;

describe('md5 password response', () => {
  it('is "md5" + md5(md5(password + user) + salt) (values from md5sum)', () => {
    expect(md5PasswordResponse('postgres', 'postgres', Buffer.from([1, 2, 3, 4]))).toBe('md568be9ed08db75f318087ab337aaea044');
  });
});

describe('SASLprep', () => {
  // RFC 4013 section 3 examples, except #6 (U+0007): pg_saslprep passes pure ASCII through unchanged.
  it.each([
    ['I\u00adX', 'IX'],
    ['user', 'user'],
    ['USER', 'USER'],
    ['\u00aa', 'a'],
    ['\u2168', 'IX'],
    ['a\u00a0b', 'a b'],
    ['\u0627\u0628', '\u0627\u0628'],
  ])('maps %j to %j', (input, out) => expect(saslprep(input)).toBe(out));

  it('passes pure ASCII through, even control characters (as pg_saslprep)', () => {
    expect(saslprep('\u0007bell')).toBe('\u0007bell');
  });

  it.each([
    ['bidi: RandAL not at both ends', '\u0627\u0031'],
    ['bidi: RandAL mixed with L', '\u0627a\u0628'],
    ['private use', 'x\ue000'],
    ['non-ASCII control', 'x\u0085'],
    ['lone surrogate', 'x\ud800'],
    ['unassigned code point', 'x\u{e0080}\u00e9'],
    ['non-character', 'x\ufffe'],
  ])('rejects %s', (_name, input) => expect(saslprep(input)).toBeUndefined());
});

describe('SCRAM-SHA-256 (RFC 7677 section 3 test vector)', () => {
  const clientNonce = 'rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinal = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  const serverFinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';
  const client = () => new ScramClient({ password: 'pencil', mechanism: SCRAM_SHA_256, nonce: clientNonce, username: 'user' });

  it('produces the RFC messages and accepts the server signature', async () => {
    const c = client();
    expect(c.clientFirstMessage()).toBe(`n,,n=user,r=${clientNonce}`);
    expect(await c.handleServerFirst(serverFirst)).toBe(clientFinal);
    c.handleServerFinal(serverFinal);
    expect(c.finished).toBe(true);
    expect(c.channelBound).toBe(false);
  });

  it('rejects a wrong server signature with libpq\'s text', async () => {
    const c = client();
    c.clientFirstMessage();
    await c.handleServerFirst(serverFirst);
    expect(() => c.handleServerFinal('v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).toThrow('incorrect server signature');
  });

  it.each([
    ['r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', 'invalid SCRAM response (nonce mismatch)'],
    [`s=x,r=${clientNonce}`, 'malformed SCRAM message (attribute "r" expected)'],
    [`r:${clientNonce}`, 'malformed SCRAM message (expected character "=" for attribute "r")'],
    [`r=${clientNonce}x,s=not*base64,i=1`, 'malformed SCRAM message (invalid salt)'],
    [`r=${clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`, 'malformed SCRAM message (invalid iteration count)'],
    [`r=${clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=12x`, 'malformed SCRAM message (invalid iteration count)'],
    ['', 'malformed SCRAM message (empty message)'],
    [`r=${clientNonce}\0`, 'malformed SCRAM message (length mismatch)'],
  ])('server-first %j fails: %s', async (msg, text) => {
    const c = client();
    c.clientFirstMessage();
    await expect(c.handleServerFirst(msg)).rejects.toThrow(new ConnectionError(text));
  });

  it.each([
    ['e=invalid-proof', 'error received from server in SCRAM exchange: invalid-proof'],
    ['x=abc', 'malformed SCRAM message (attribute "v" expected)'],
    ['v=AAAA', 'malformed SCRAM message (invalid server signature)'],
  ])('server-final %j fails: %s', async (msg, text) => {
    const c = client();
    c.clientFirstMessage();
    await c.handleServerFirst(serverFirst);
    expect(() => c.handleServerFinal(msg)).toThrow(text);
  });

  it('refuses a final message before the proof was sent', () => {
    const c = client();
    c.clientFirstMessage();
    expect(() => c.handleServerFinal(serverFinal)).toThrow(
      'AuthenticationSASLFinal received from server, but SASL authentication was not completed',
    );
  });

  it('libpq framing: empty user name, 18-byte nonce, "y" flag when binding is possible but not offered', () => {
    const c = new ScramClient({ password: 'x', mechanism: SCRAM_SHA_256, clientSupportsChannelBinding: true });
    const first = c.clientFirstMessage();
    expect(first).toMatch(/^y,,n=,r=[A-Za-z0-9+/]{24}$/);
  });

  it('-PLUS binds the certificate hash into c=', async () => {
    const cb = Buffer.from('0123456789abcdef0123456789abcdef');
    const c = new ScramClient({ password: 'pencil', mechanism: SCRAM_SHA_256_PLUS, channelBindingData: cb, nonce: clientNonce });
    expect(c.clientFirstMessage()).toBe(`p=tls-server-end-point,,n=,r=${clientNonce}`);
    const final = await c.handleServerFirst(serverFirst);
    const cField = /^c=([^,]*),/.exec(final)?.[1] as string;
    expect(Buffer.from(cField, 'base64')).toEqual(Buffer.concat([Buffer.from('p=tls-server-end-point,,'), cb]));
  });
});

describe('tls-server-end-point hash', () => {
  const cases: [string, string, string][] = [
    ['fixtures server.crt (sha256WithRSA)', join(here, '../../../fixtures/tls/server.crt'), 'sha256'],
    ['md5WithRSA → SHA-256', join(here, 'certs/rsa-md5.crt'), 'sha256'],
    ['sha1WithRSA → SHA-256', join(here, 'certs/rsa-sha1.crt'), 'sha256'],
    ['ecdsa-with-SHA384', join(here, 'certs/ecdsa-sha384.crt'), 'sha384'],
    ['RSASSA-PSS with SHA-512', join(here, 'certs/rsa-pss-sha512.crt'), 'sha512'],
  ];
  it.each(cases)('%s', (_name, file, alg) => {
    const d = der(file);
    expect(tlsServerEndPointHash(d)).toEqual(createHash(alg).update(d).digest());
  });

  it('reports the signature hash before the MD5/SHA-1 substitution', () => {
    expect(certificateSignatureHash(der(join(here, 'certs/rsa-sha1.crt')))).toBe('sha1');
    expect(certificateSignatureHash(der(join(here, 'certs/rsa-md5.crt')))).toBe('md5');
  });

  it('fails like OpenSSL for Ed25519 (no digest) and for garbage', () => {
    expect(() => tlsServerEndPointHash(der(join(here, 'certs/ed25519.crt')))).toThrow('could not find digest for NID UNDEF');
    expect(() => tlsServerEndPointHash(Buffer.from([0x30, 0x03, 0x02, 0x01]))).toThrow(
      'could not determine server certificate signature algorithm',
    );
  });
});

describe('server version number (PQserverVersion)', () => {
  it.each([
    ['15.18', 150018],
    ['18.4', 180004],
    ['16.4 (Debian 16.4-1.pgdg120+1)', 160004],
    ['18beta1', 180000],
    ['19devel', 190000],
    ['9.6.24', 90624],
    ['9.6devel', 90600],
    ['garbage', 0],
  ])('%s → %d', (v, n) => expect(parseServerVersionNum(v)).toBe(n));
});
