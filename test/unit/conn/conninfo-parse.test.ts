import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../src/errors.js';
import { isConnInfoString, parseConnInfo, uriDecode, uriPrefixLength } from '../../../src/conn/conninfo-parse.js';

const parsed = (s: string) => Object.fromEntries(parseConnInfo(s));

function errorOf(s: string): string {
  try {
    parseConnInfo(s);
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectionError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${s}`);
}

describe('keyword/value strings', () => {
  it.each<[string, Record<string, string>]>([
    ['host=a port=5', { host: 'a', port: '5' }],
    ['  host = a   port =  5  ', { host: 'a', port: '5' }],
    ["host='a b' user='it\\'s'", { host: 'a b', user: "it's" }],
    ['host=a\\ b', { host: 'a b' }],
    ["dbname='x\\\\y'", { dbname: 'x\\y' }],
    ['host=a\\', { host: 'a' }],
    ['host=', { host: '' }],
    // libpq skips blanks after "=", so the next word becomes the value
    ['host= port=5', { host: 'port=5' }],
    ["host='a'port=5", { host: 'a', port: '5' }],
    ['host=a=b', { host: 'a=b' }],
    ['host=a host=b', { host: 'b' }],
    ['', {}],
    [' \t\n', {}],
    ['requiressl=1', { sslmode: 'require' }],
    ['requiressl=0 host=x', { sslmode: 'prefer', host: 'x' }],
    ['load_balance_hosts=random sslnegotiation=postgres', { load_balance_hosts: 'random', sslnegotiation: 'postgres' }],
  ])('%j', (input, expected) => {
    expect(parsed(input)).toEqual(expected);
  });

  it.each<[string, string]>([
    ["host='unterminated", 'unterminated quoted string in connection info string'],
    ["host='a\\'", 'unterminated quoted string in connection info string'],
    ['abc', 'missing "=" after "abc" in connection info string'],
    ['host=a x', 'missing "=" after "x" in connection info string'],
    ['host=a x y=1', 'missing "=" after "x" in connection info string'],
    ['foo=bar', 'invalid connection option "foo"'],
    ['host=a foo=bar', 'invalid connection option "foo"'],
    // the value is read before the keyword is checked
    ["foo=bar host='open", 'invalid connection option "foo"'],
    ['=x', 'invalid connection option ""'],
  ])('%j fails', (input, message) => {
    expect(errorOf(input)).toBe(message);
  });
});

describe('URIs', () => {
  it.each<[string, Record<string, string>]>([
    ['postgresql://', {}],
    ['postgres://', {}],
    ['postgresql://u:p@h:1/db?sslmode=require', { user: 'u', password: 'p', host: 'h', port: '1', dbname: 'db', sslmode: 'require' }],
    ['postgresql://u@h', { user: 'u', host: 'h' }],
    ['postgresql://:p@h', { password: 'p', host: 'h' }],
    ['postgresql://h1:1,h2:2/db', { host: 'h1,h2', port: '1,2', dbname: 'db' }],
    // a port list keeps its empty entries, so h1 gets the default port
    ['postgresql://h1,h2:5433', { host: 'h1,h2', port: ',5433' }],
    ['postgresql://[::1]:5432/db', { host: '::1', port: '5432', dbname: 'db' }],
    ['postgresql://[::1],[::2]:7/x', { host: '::1,::2', port: ',7', dbname: 'x' }],
    ['postgresql://%2Fvar%2Frun/db', { host: '/var/run', dbname: 'db' }],
    ['postgresql://h/db?host=%2Fsock', { host: '/sock', dbname: 'db' }],
    ['postgresql://h/db?ssl=true', { host: 'h', dbname: 'db', sslmode: 'require' }],
    ['postgresql://h/db?requiressl=1', { host: 'h', dbname: 'db', sslmode: 'require' }],
    ['postgresql://h/d%C3%A9', { host: 'h', dbname: 'dé' }],
    ['postgresql://u%40x:p%3Aw@h', { user: 'u@x', password: 'p:w', host: 'h' }],
    ['postgresql://h?dbname=x', { host: 'h', dbname: 'x' }],
    ['postgresql:///db', { dbname: 'db' }],
    ['postgresql://h:/db', { host: 'h', dbname: 'db' }],
    ['postgresql://user@/db?host=/tmp', { user: 'user', host: '/tmp', dbname: 'db' }],
    ['postgresql://h/db?application_name=a%20b&port=7', { host: 'h', dbname: 'db', application_name: 'a b', port: '7' }],
    ['postgresql://h/db?', { host: 'h', dbname: 'db' }],
    // the comma also separates (empty) ports
    ['postgresql://h,/x', { host: 'h,', port: ',', dbname: 'x' }],
  ])('%j', (input, expected) => {
    expect(parsed(input)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['postgresql://[::1', 'end of string reached when looking for matching "]" in IPv6 host address in URI: "postgresql://[::1"'],
    ['postgresql://[]/x', 'IPv6 host address may not be empty in URI: "postgresql://[]/x"'],
    ['postgresql://[::1]x', 'unexpected character "x" at position 19 in URI (expected ":" or "/"): "postgresql://[::1]x"'],
    ['postgresql://h/db?ssl=false', 'invalid URI query parameter: "ssl"'],
    ['postgresql://h/db?foo=bar', 'invalid URI query parameter: "foo"'],
    ['postgresql://h/db?a=b=c', 'extra key/value separator "=" in URI query parameter: "a"'],
    ['postgresql://h/db?a', 'missing key/value separator "=" in URI query parameter: "a"'],
    ['postgresql://h/db?&', 'missing key/value separator "=" in URI query parameter: ""'],
    ['postgresql://h/%zz', 'invalid percent-encoded token: "%zz"'],
    ['postgresql://h/%4', 'invalid percent-encoded token: "%4"'],
    ['postgresql://h/%00', 'forbidden value %00 in percent-encoded value: "%00"'],
    ['postgresql://h/db?x=%zz', 'invalid percent-encoded token: "%zz"'],
  ])('%j fails', (input, message) => {
    expect(errorOf(input)).toBe(message);
  });
});

describe('helpers', () => {
  it('recognises connection strings as libpq does', () => {
    expect(uriPrefixLength('postgresql://x')).toBe(13);
    expect(uriPrefixLength('postgres://x')).toBe(11);
    expect(uriPrefixLength('postgresq://x')).toBe(0);
    expect(isConnInfoString('mydb')).toBe(false);
    expect(isConnInfoString('host=x')).toBe(true);
    expect(isConnInfoString('postgres://')).toBe(true);
  });

  it('percent-decodes bytes, not characters', () => {
    expect(uriDecode('%e2%82%AC')).toBe('€');
    expect(uriDecode('a+b')).toBe('a+b');
  });
});
