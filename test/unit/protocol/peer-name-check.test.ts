import { describe, expect, it } from 'vitest';
import { checkPeerName, ipBytes, parseSubjectAltName, wildcardMatches } from '../../../src/protocol/peer-name-check.js';

describe('verify-full host name check', () => {
  const sans = parseSubjectAltName('DNS:localhost, IP Address:127.0.0.1');

  it('parses Node\'s subjectaltname text, including quoted entries', () => {
    expect(sans).toEqual([
      { type: 'DNS', value: 'localhost' },
      { type: 'IP', value: '127.0.0.1' },
    ]);
    expect(parseSubjectAltName('DNS:"a,b.example", email:x@y, DNS:c.example')).toEqual([
      { type: 'DNS', value: 'a,b.example' },
      { type: 'DNS', value: 'c.example' },
    ]);
    expect(parseSubjectAltName(undefined)).toEqual([]);
  });

  it('matches DNS names case-insensitively and IP addresses by value', () => {
    expect(checkPeerName('LOCALHOST', sans, 'localhost')).toBeUndefined();
    expect(checkPeerName('127.0.0.1', sans, 'localhost')).toBeUndefined();
    expect(checkPeerName('::1', parseSubjectAltName('IP Address:0:0:0:0:0:0:0:1'), undefined)).toBeUndefined();
  });

  it('names the first certificate name and counts the others', () => {
    expect(checkPeerName('wrong.example', sans, 'localhost')).toBe(
      'server certificate for "localhost" (and 1 other name) does not match host name "wrong.example"',
    );
    expect(checkPeerName('10.0.0.1', sans, 'localhost')).toBe(
      'server certificate for "localhost" (and 1 other name) does not match host name "10.0.0.1"',
    );
    expect(checkPeerName('x', [], 'onlycn')).toBe('server certificate for "onlycn" does not match host name "x"');
    expect(checkPeerName('x', parseSubjectAltName('DNS:a, DNS:b, DNS:c'), 'cn')).toBe(
      'server certificate for "a" (and 2 other names) does not match host name "x"',
    );
    expect(checkPeerName('x', [], undefined)).toBe("could not get server's host name from server certificate");
    expect(checkPeerName('', sans, undefined)).toBe('host name must be specified for a verified SSL connection');
  });

  it('ignores the CN when a SAN of the host\'s kind exists, but not for IPs with only DNS SANs', () => {
    expect(checkPeerName('cn.example', parseSubjectAltName('DNS:other.example'), 'cn.example')).toBeDefined();
    expect(checkPeerName('10.1.2.3', parseSubjectAltName('DNS:other.example'), '10.1.2.3')).toBeUndefined();
  });

  it('wildcards cover exactly one leading label', () => {
    expect(wildcardMatches('*.example.com', 'db.example.com')).toBe(true);
    expect(wildcardMatches('*.example.com', 'DB.EXAMPLE.COM')).toBe(true);
    expect(wildcardMatches('*.example.com', 'a.b.example.com')).toBe(false);
    expect(wildcardMatches('*.example.com', 'example.com')).toBe(false);
    expect(wildcardMatches('db*.example.com', 'db1.example.com')).toBe(false);
  });

  it('converts IP text to bytes', () => {
    expect(ipBytes('::1')?.toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipBytes('::ffff:1.2.3.4')?.toString('hex')).toBe('00000000000000000000ffff01020304');
    expect(ipBytes('fe80::1:2')?.toString('hex')).toBe('fe800000000000000000000000010002');
    expect(ipBytes('10.0.0.255')?.toString('hex')).toBe('0a0000ff');
    expect(ipBytes('example.com')).toBeUndefined();
  });
});
