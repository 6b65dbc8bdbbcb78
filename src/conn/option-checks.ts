/**
 * The value checks of libpq's pqConnectOptions2 (fe-connect.c), in libpq's order and with its texts,
 * plus the defaults it fills in there.  Options this client cannot honour are refused rather than
 * silently ignored when ignoring them would weaken security or change which server is used.
 */
import { ConnectionError } from '../errors.js';
import type { ConnInfoValues } from './conninfo-parse.js';

function invalid(keyword: string, value: string): ConnectionError {
  return new ConnectionError(`invalid ${keyword} value: "${value}"`);
}

/** Not an option libpq rejects; a gap of this client (see the module comment). */
function unsupported(keyword: string, value: string): ConnectionError {
  return new ConnectionError(`connection option ${keyword}="${value}" is not supported by this client`);
}

function checkOneOf(values: ConnInfoValues, keyword: string, allowed: readonly string[], fallback?: string): void {
  const v = values.get(keyword);
  if (v === undefined || v === '') {
    if (fallback !== undefined) values.set(keyword, fallback);
    return;
  }
  if (!allowed.includes(v)) throw invalid(keyword, v);
}

const REQUIRE_AUTH_METHODS = ['password', 'md5', 'gss', 'sspi', 'scram-sha-256', 'none'];

/** libpq 16+: require_auth is a comma list, all negated (`!md5`) or none negated, no duplicates. */
export function checkRequireAuth(list: string): void {
  let negated = false;
  const seen = new Set<string>();
  list.split(',').forEach((part, index) => {
    let method = part;
    if (method.startsWith('!')) {
      if (index > 0 && !negated) {
        throw new ConnectionError(`negative require_auth method "${method}" cannot be mixed with non-negative methods`);
      }
      negated = true;
      method = method.slice(1);
    } else if (negated) {
      throw new ConnectionError(`require_auth method "${method}" cannot be mixed with negative methods`);
    }
    if (!REQUIRE_AUTH_METHODS.includes(method)) throw invalid('require_auth', method);
    if (seen.has(method)) throw new ConnectionError(`require_auth method "${part}" is specified more than once`);
    seen.add(method);
  });
}

const TLS_VERSIONS = ['tlsv1', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'];

function checkTlsVersion(values: ConnInfoValues, keyword: string): void {
  const v = values.get(keyword);
  if (v === undefined || v === '') return;
  if (!TLS_VERSIONS.includes(v.toLowerCase())) throw new ConnectionError(`invalid "${keyword}" value: "${v}"`);
}

/** sslVerifyProtocolRange: with both bounds set, min must not exceed max. */
function checkTlsRange(min: string | undefined, max: string | undefined): void {
  if (min === undefined || max === undefined || min === '' || max === '') return;
  const lo = min.toLowerCase();
  const hi = max.toLowerCase();
  if (lo === 'tlsv1') return;
  if (hi === 'tlsv1' || lo > hi) throw new ConnectionError('invalid SSL protocol version range');
}

/**
 * Validate option values after hosts and passwords were worked out, setting the defaults libpq sets
 * here (channel_binding, sslmode, sslnegotiation, sslcertmode, gssencmode).
 */
export function checkOptionValues(values: ConnInfoValues): void {
  const requireAuth = values.get('require_auth');
  if (requireAuth !== undefined && requireAuth !== '') {
    checkRequireAuth(requireAuth);
    throw unsupported('require_auth', requireAuth);
  }
  checkOneOf(values, 'channel_binding', ['disable', 'prefer', 'require'], 'prefer');
  checkOneOf(values, 'sslmode', ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'], 'prefer');
  const sslmode = values.get('sslmode') as string;

  checkOneOf(values, 'sslnegotiation', ['postgres', 'direct'], 'postgres');
  if (values.get('sslnegotiation') === 'direct') {
    if (!sslmode.startsWith('r') && !sslmode.startsWith('v')) {
      throw new ConnectionError(`weak sslmode "${sslmode}" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`);
    }
    throw unsupported('sslnegotiation', 'direct');
  }
  if (values.get('sslrootcert') === 'system' && sslmode !== 'verify-full') {
    throw new ConnectionError(`weak sslmode "${sslmode}" may not be used with sslrootcert=system (use "verify-full")`);
  }
  checkTlsVersion(values, 'ssl_min_protocol_version');
  checkTlsVersion(values, 'ssl_max_protocol_version');
  checkTlsRange(values.get('ssl_min_protocol_version'), values.get('ssl_max_protocol_version'));

  checkOneOf(values, 'sslcertmode', ['disable', 'allow', 'require'], 'allow');
  if (values.get('sslcertmode') === 'require') throw unsupported('sslcertmode', 'require');

  checkOneOf(values, 'gssencmode', ['disable', 'prefer', 'require'], 'prefer');
  if (values.get('gssencmode') === 'require') {
    throw new ConnectionError('gssencmode value "require" invalid when GSSAPI support is not compiled in');
  }
  checkOneOf(values, 'target_session_attrs', ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']);
  checkOneOf(values, 'load_balance_hosts', ['disable', 'random']);

  // Options that would need support this client does not have; using them silently would weaken
  // security (certificate revocation, peer checks) or need authentication it cannot do.
  for (const keyword of ['sslcrl', 'sslcrldir', 'requirepeer', 'scram_client_key', 'scram_server_key', 'oauth_issuer', 'oauth_client_id']) {
    const v = values.get(keyword);
    if (v !== undefined && v !== '') throw unsupported(keyword, keyword.startsWith('scram') ? '…' : v);
  }
  const minProtocol = values.get('min_protocol_version');
  if (minProtocol !== undefined && minProtocol !== '' && minProtocol !== '3.0') throw unsupported('min_protocol_version', minProtocol);
}

/**
 * pqParseIntParam: an integer with optional surrounding white space that fits in an int.
 * Throws `invalid integer value "%s" for connection option "%s"`.
 */
export function parseIntParam(value: string, context: string): number {
  const m = /^[ \t\n\r\v\f]*([+-]?[0-9]+)[ \t\n\r\v\f]*$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(n) || n > 2147483647 || n < -2147483648) {
    throw new ConnectionError(`invalid integer value "${value}" for connection option "${context}"`);
  }
  return n;
}
