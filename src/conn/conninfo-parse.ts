/**
 * libpq's connection string parser (fe-connect.c: parse_connection_string, conninfo_parse,
 * conninfo_uri_parse_options, conninfo_uri_parse_params, conninfo_uri_decode, conninfo_storeval):
 * keyword/value strings and postgresql:// URIs, with libpq's error texts.
 *
 * The result holds only what the string gives (like PQconninfoParse): no service file, environment or
 * compiled defaults.  Values may be empty strings; libpq treats those as "not set" later on.
 */
import { ConnectionError } from '../errors.js';
import { findConnInfoOption } from './conninfo-options.js';

export type ConnInfoValues = Map<string, string>;

const URI_DESIGNATOR = 'postgresql://';
const SHORT_URI_DESIGNATOR = 'postgres://';

/** Length of the URI prefix the string starts with, or 0 (uri_prefix_length). */
export function uriPrefixLength(connstr: string): number {
  if (connstr.startsWith(URI_DESIGNATOR)) return URI_DESIGNATOR.length;
  if (connstr.startsWith(SHORT_URI_DESIGNATOR)) return SHORT_URI_DESIGNATOR.length;
  return 0;
}

/** Does the string look like a connection string rather than a plain name (recognized_connection_string)? */
export function isConnInfoString(connstr: string): boolean {
  return uriPrefixLength(connstr) !== 0 || connstr.includes('=');
}

/** Parse a keyword/value string or a URI.  Throws ConnectionError with libpq's message. */
export function parseConnInfo(connstr: string): ConnInfoValues {
  return uriPrefixLength(connstr) !== 0 ? parseUri(connstr) : parseKeywordValue(connstr);
}

/** C isspace() in the "C" locale. */
function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

/**
 * Store one value (conninfo_storeval): `requiressl` becomes sslmode; an unknown keyword is an error
 * unless `ignoreMissing`, in which case false is returned and nothing is stored.
 */
function storeValue(values: ConnInfoValues, keyword: string, value: string, ignoreMissing: boolean): boolean {
  if (keyword === 'requiressl') {
    keyword = 'sslmode';
    value = value.startsWith('1') ? 'require' : 'prefer';
  }
  if (findConnInfoOption(keyword) === undefined) {
    if (ignoreMissing) return false;
    throw new ConnectionError(`invalid connection option "${keyword}"`);
  }
  values.set(keyword, value);
  return true;
}

function parseKeywordValue(conninfo: string): ConnInfoValues {
  const values: ConnInfoValues = new Map();
  const s = conninfo;
  let i = 0;
  while (i < s.length) {
    if (isSpace(s[i])) {
      i++;
      continue;
    }
    // The parameter name runs up to "=" or white space.
    const nameStart = i;
    while (i < s.length && s[i] !== '=' && !isSpace(s[i])) i++;
    const name = s.slice(nameStart, i);
    while (i < s.length && isSpace(s[i])) i++;
    if (s[i] !== '=') throw new ConnectionError(`missing "=" after "${name}" in connection info string`);
    i++;
    while (i < s.length && isSpace(s[i])) i++;

    let value = '';
    if (s[i] !== "'") {
      while (i < s.length && !isSpace(s[i])) {
        if (s[i] === '\\') {
          i++;
          if (i < s.length) value += s[i++];
        } else {
          value += s[i++];
        }
      }
      i++; // the white space that ended the value (or the end)
    } else {
      i++;
      for (;;) {
        if (i >= s.length) throw new ConnectionError('unterminated quoted string in connection info string');
        if (s[i] === '\\') {
          i++;
          if (i < s.length) value += s[i++];
          continue;
        }
        if (s[i] === "'") {
          i++;
          break;
        }
        value += s[i++];
      }
    }
    storeValue(values, name, value, false);
  }
  return values;
}

function hexDigit(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

/** Percent-decode one URI part (conninfo_uri_decode). */
export function uriDecode(str: string): string {
  const src = Buffer.from(str, 'utf8');
  const out = Buffer.alloc(src.length);
  let o = 0;
  for (let q = 0; q < src.length; ) {
    const b = src[q++] as number;
    if (b !== 0x25) {
      out[o++] = b;
      continue;
    }
    const hi = hexDigit(src[q++]);
    const lo = hi < 0 ? -1 : hexDigit(src[q++]);
    if (hi < 0 || lo < 0) throw new ConnectionError(`invalid percent-encoded token: "${str}"`);
    const c = (hi << 4) | lo;
    if (c === 0) throw new ConnectionError(`forbidden value %00 in percent-encoded value: "${str}"`);
    out[o++] = c;
  }
  return out.subarray(0, o).toString('utf8');
}

/** Index of the first character at or after `from` that is in `stops`, or s.length. */
function scanTo(s: string, from: number, stops: string): number {
  let p = from;
  while (p < s.length && !stops.includes(s[p] as string)) p++;
  return p;
}

function parseUri(uri: string): ConnInfoValues {
  const values: ConnInfoValues = new Map();
  const start = uriPrefixLength(uri);
  const store = (keyword: string, raw: string): void => {
    storeValue(values, keyword, uriDecode(raw), false);
  };

  // Optional "user[:password]@" before the first "/".
  let p = scanTo(uri, start, '@/');
  if (uri[p] === '@') {
    const at = p;
    const userEnd = scanTo(uri, start, ':@');
    const user = uri.slice(start, userEnd);
    if (user !== '') store('user', user);
    if (uri[userEnd] === ':') {
      const password = uri.slice(userEnd + 1, at);
      if (password !== '') store('password', password);
    }
    p = at + 1;
  } else {
    p = start;
  }

  // One or more netloc[:port] entries separated by commas.
  let hostbuf = '';
  let portbuf = '';
  let prevchar: string | undefined;
  for (;;) {
    let host: string;
    if (uri[p] === '[') {
      const hostStart = ++p;
      p = scanTo(uri, p, ']');
      if (p >= uri.length) {
        throw new ConnectionError(`end of string reached when looking for matching "]" in IPv6 host address in URI: "${uri}"`);
      }
      if (p === hostStart) throw new ConnectionError(`IPv6 host address may not be empty in URI: "${uri}"`);
      host = uri.slice(hostStart, p);
      p++;
      const next = uri[p];
      if (next !== undefined && !':/?,'.includes(next)) {
        const position = Buffer.byteLength(uri.slice(0, p), 'utf8') + 1;
        throw new ConnectionError(`unexpected character "${next}" at position ${position} in URI (expected ":" or "/"): "${uri}"`);
      }
    } else {
      const hostStart = p;
      p = scanTo(uri, p, ':/?,');
      host = uri.slice(hostStart, p);
    }
    prevchar = uri[p];
    hostbuf += host;
    if (prevchar === ':') {
      const portStart = ++p;
      p = scanTo(uri, p, '/?,');
      prevchar = uri[p];
      portbuf += uri.slice(portStart, p);
    }
    if (prevchar !== ',') break;
    p++;
    hostbuf += ',';
    portbuf += ',';
  }
  if (hostbuf !== '') store('host', hostbuf);
  if (portbuf !== '') store('port', portbuf);

  // "/dbname", then "?params".
  if (prevchar !== undefined && prevchar !== '?') {
    const dbStart = ++p;
    p = scanTo(uri, p, '?');
    prevchar = uri[p];
    const dbname = uri.slice(dbStart, p);
    if (dbname !== '') store('dbname', dbname);
  }
  if (prevchar !== undefined) parseUriParams(uri.slice(p + 1), values);
  return values;
}

function parseUriParams(params: string, values: ConnInfoValues): void {
  let i = 0;
  while (i < params.length) {
    const keywordStart = i;
    let keywordEnd = -1;
    for (;;) {
      const ch = params[i];
      if (ch === '=') {
        if (keywordEnd >= 0) {
          const keyword = params.slice(keywordStart, keywordEnd);
          throw new ConnectionError(`extra key/value separator "=" in URI query parameter: "${keyword}"`);
        }
        keywordEnd = i++;
      } else if (ch === '&' || ch === undefined) {
        break;
      } else {
        i++;
      }
    }
    if (keywordEnd < 0) {
      const keyword = params.slice(keywordStart, i);
      throw new ConnectionError(`missing key/value separator "=" in URI query parameter: "${keyword}"`);
    }
    let keyword = uriDecode(params.slice(keywordStart, keywordEnd));
    let value = uriDecode(params.slice(keywordEnd + 1, i));
    if (i < params.length) i++; // past "&"
    // JDBC compatibility.
    if (keyword === 'ssl' && value === 'true') {
      keyword = 'sslmode';
      value = 'require';
    }
    if (!storeValue(values, keyword, value, true)) {
      throw new ConnectionError(`invalid URI query parameter: "${keyword}"`);
    }
  }
}
