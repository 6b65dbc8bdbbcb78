/**
 * sslmode=verify-full host name check, as libpq does it (pq_verify_peer_name_matches_certificate and
 * pgtls_verify_peer_name_matches_certificate_guts):
 * - every subjectAltName dNSName and iPAddress is examined, in certificate order, until one matches;
 * - a dNSName matches case-insensitively, or as a wildcard "*.rest" whose "*" covers exactly one label;
 * - an iPAddress matches when the host is an IP address with the same bytes;
 * - the Common Name is examined only when no SAN of the host's own kind (DNS name or IP) exists.
 * Errors name the first name examined and how many others there were.
 */
import { isIP } from 'node:net';

export interface SubjectAltName {
  type: 'DNS' | 'IP';
  value: string;
}

/** Parse Node's subjectaltname text ("DNS:a, IP Address:1.2.3.4", JSON-quoted when unusual). */
export function parseSubjectAltName(text: string | undefined): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  if (!text) return out;
  let pos = 0;
  while (pos < text.length) {
    const colon = text.indexOf(':', pos);
    if (colon < 0) break;
    const kind = text.slice(pos, colon).trim();
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      // JSON string literal: find its closing quote.
      let i = colon + 2;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, i + 1)) as string;
      next = text.indexOf(',', i + 1);
    } else {
      next = text.indexOf(',', colon + 1);
      value = text.slice(colon + 1, next < 0 ? text.length : next);
    }
    if (kind === 'DNS') out.push({ type: 'DNS', value });
    else if (kind === 'IP Address') out.push({ type: 'IP', value: value.trim() });
    if (next < 0) break;
    pos = next + 1;
  }
  return out;
}

/** libpq's wildcard rule: "*." prefix only; "*" matches one label (no dots); case-insensitive. */
export function wildcardMatches(pattern: string, host: string): boolean {
  if (pattern.length < 3 || !pattern.startsWith('*.')) return false;
  if (pattern.length > host.length) return false;
  const suffix = pattern.slice(1).toLowerCase();
  if (!host.toLowerCase().endsWith(suffix)) return false;
  const label = host.slice(0, host.length - suffix.length);
  return !label.includes('.');
}

/** IP address text → bytes (IPv4: 4, IPv6: 16), or undefined if not an address. */
export function ipBytes(text: string): Buffer | undefined {
  const v = isIP(text);
  if (v === 4) return Buffer.from(text.split('.').map(Number));
  if (v !== 6) return undefined;
  let s = text;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    tail = s.slice(lastColon + 1).split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = s.split('::') as [string, string | undefined];
  const groups = (p: string | undefined) => (p ? p.split(':').filter((g) => g !== '') : []);
  const l = groups(left);
  const r = groups(right);
  const all = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  const buf = Buffer.alloc(16);
  all.forEach((g, i) => buf.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  if (tail.length === 4) Buffer.from(tail).copy(buf, 12);
  return buf;
}

/**
 * Check `host` against the certificate's names.  Returns undefined when it matches, else libpq's error
 * text.  `commonName` is the subject CN, if any.
 */
export function checkPeerName(host: string, sans: SubjectAltName[], commonName: string | undefined): string | undefined {
  if (host === '') return 'host name must be specified for a verified SSL connection';
  const hostIp = ipBytes(host);
  const hostType = hostIp !== undefined ? 'IP' : 'DNS';
  let checkCn = true;
  let examined = 0;
  let firstName: string | undefined;
  for (const san of sans) {
    if (san.type === hostType) checkCn = false;
    examined++;
    firstName ??= san.value;
    const matched =
      san.type === 'DNS'
        ? san.value.toLowerCase() === host.toLowerCase() || wildcardMatches(san.value, host)
        : hostIp !== undefined && ipBytes(san.value)?.equals(hostIp) === true;
    if (matched) return undefined;
  }
  if (checkCn && commonName !== undefined) {
    examined++;
    firstName ??= commonName;
    if (commonName.toLowerCase() === host.toLowerCase() || wildcardMatches(commonName, host)) return undefined;
  }
  if (firstName === undefined) return "could not get server's host name from server certificate";
  if (examined > 1) {
    const others = examined - 1;
    return `server certificate for "${firstName}" (and ${others} other name${others === 1 ? '' : 's'}) does not match host name "${host}"`;
  }
  return `server certificate for "${firstName}" does not match host name "${host}"`;
}
