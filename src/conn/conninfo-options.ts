/**
 * The connection options libpq knows (fe-connect.c, PQconninfoOptions), in libpq's table order, for the
 * libpq versions of PostgreSQL 15 to 18.  The order matters: PQconninfo() (and so `primary_conninfo`
 * written by -R) lists options in this order.
 *
 * Facts checked against the libpq 15.18, 16.14, 17.10 and 18.4 shared libraries with PQconndefaults().
 */

export type LibpqMajor = 15 | 16 | 17 | 18;

export interface ConnInfoOptionDef {
  keyword: string;
  /** Environment variable consulted when the option is not given (conninfo_add_defaults). */
  envVar?: string;
  /** Compiled-in default, applied after the environment. */
  compiled?: string;
  /** First libpq major that knows the keyword. */
  since: LibpqMajor;
  /** A secret (libpq's "*" display flag): never logged. */
  secret?: boolean;
  /**
   * False when PQconninfo() never reports the option (libpq 15-17 keep `service` out of the PGconn;
   * 18 reports it).  Such options are also left out of `primary_conninfo`.
   */
  reported?: { until: LibpqMajor } | false;
}

/**
 * The compiled defaults chosen for this client.  They match a libpq built with OpenSSL and GSSAPI, as
 * the PGDG and Debian packages are (gssencmode=prefer): the values then equal what those packages'
 * pg_basebackup writes for -R.  This client itself never negotiates GSSAPI encryption.
 */
export const CONNINFO_OPTIONS: readonly ConnInfoOptionDef[] = [
  { keyword: 'service', envVar: 'PGSERVICE', since: 15, reported: { until: 17 } },
  { keyword: 'user', envVar: 'PGUSER', since: 15 },
  { keyword: 'password', envVar: 'PGPASSWORD', since: 15, secret: true },
  { keyword: 'passfile', envVar: 'PGPASSFILE', since: 15 },
  { keyword: 'channel_binding', envVar: 'PGCHANNELBINDING', compiled: 'prefer', since: 15 },
  { keyword: 'connect_timeout', envVar: 'PGCONNECT_TIMEOUT', since: 15 },
  { keyword: 'dbname', envVar: 'PGDATABASE', since: 15 },
  { keyword: 'host', envVar: 'PGHOST', since: 15 },
  { keyword: 'hostaddr', envVar: 'PGHOSTADDR', since: 15 },
  { keyword: 'port', envVar: 'PGPORT', compiled: '5432', since: 15 },
  { keyword: 'client_encoding', envVar: 'PGCLIENTENCODING', since: 15 },
  { keyword: 'options', envVar: 'PGOPTIONS', compiled: '', since: 15 },
  { keyword: 'application_name', envVar: 'PGAPPNAME', since: 15 },
  { keyword: 'fallback_application_name', since: 15 },
  { keyword: 'keepalives', since: 15 },
  { keyword: 'keepalives_idle', since: 15 },
  { keyword: 'keepalives_interval', since: 15 },
  { keyword: 'keepalives_count', since: 15 },
  { keyword: 'tcp_user_timeout', since: 15 },
  { keyword: 'sslmode', envVar: 'PGSSLMODE', compiled: 'prefer', since: 15 },
  { keyword: 'sslnegotiation', envVar: 'PGSSLNEGOTIATION', compiled: 'postgres', since: 17 },
  { keyword: 'sslcompression', envVar: 'PGSSLCOMPRESSION', compiled: '0', since: 15 },
  { keyword: 'sslcert', envVar: 'PGSSLCERT', since: 15 },
  { keyword: 'sslkey', envVar: 'PGSSLKEY', since: 15 },
  { keyword: 'sslcertmode', envVar: 'PGSSLCERTMODE', since: 16 },
  { keyword: 'sslpassword', since: 15, secret: true },
  { keyword: 'sslrootcert', envVar: 'PGSSLROOTCERT', since: 15 },
  { keyword: 'sslcrl', envVar: 'PGSSLCRL', since: 15 },
  { keyword: 'sslcrldir', envVar: 'PGSSLCRLDIR', since: 15 },
  { keyword: 'sslsni', envVar: 'PGSSLSNI', compiled: '1', since: 15 },
  { keyword: 'requirepeer', envVar: 'PGREQUIREPEER', since: 15 },
  { keyword: 'require_auth', envVar: 'PGREQUIREAUTH', since: 16 },
  { keyword: 'min_protocol_version', envVar: 'PGMINPROTOCOLVERSION', since: 18 },
  { keyword: 'max_protocol_version', envVar: 'PGMAXPROTOCOLVERSION', since: 18 },
  { keyword: 'ssl_min_protocol_version', envVar: 'PGSSLMINPROTOCOLVERSION', compiled: 'TLSv1.2', since: 15 },
  { keyword: 'ssl_max_protocol_version', envVar: 'PGSSLMAXPROTOCOLVERSION', since: 15 },
  { keyword: 'gssencmode', envVar: 'PGGSSENCMODE', compiled: 'prefer', since: 15 },
  { keyword: 'krbsrvname', envVar: 'PGKRBSRVNAME', compiled: 'postgres', since: 15 },
  { keyword: 'gsslib', envVar: 'PGGSSLIB', since: 15 },
  { keyword: 'gssdelegation', envVar: 'PGGSSDELEGATION', compiled: '0', since: 16 },
  { keyword: 'replication', since: 15 },
  { keyword: 'target_session_attrs', envVar: 'PGTARGETSESSIONATTRS', compiled: 'any', since: 15 },
  { keyword: 'load_balance_hosts', envVar: 'PGLOADBALANCEHOSTS', compiled: 'disable', since: 16 },
  { keyword: 'scram_client_key', since: 18, secret: true },
  { keyword: 'scram_server_key', since: 18, secret: true },
  { keyword: 'oauth_issuer', since: 18 },
  { keyword: 'oauth_client_id', since: 18 },
  { keyword: 'oauth_client_secret', since: 18, secret: true },
  { keyword: 'oauth_scope', since: 18 },
  { keyword: 'sslkeylogfile', since: 18 },
];

const BY_KEYWORD = new Map(CONNINFO_OPTIONS.map((o) => [o.keyword, o]));

/** The option named `keyword`, in any supported libpq version; undefined for an unknown keyword. */
export function findConnInfoOption(keyword: string): ConnInfoOptionDef | undefined {
  return BY_KEYWORD.get(keyword);
}

/** The options libpq of `major` knows, in its table order. */
export function connInfoOptionsOf(major: LibpqMajor): ConnInfoOptionDef[] {
  return CONNINFO_OPTIONS.filter((o) => o.since <= major);
}

/** Would PQconninfo() of libpq `major` report this option (when it has a value)? */
export function isReportedBy(def: ConnInfoOptionDef, major: LibpqMajor): boolean {
  if (def.since > major) return false;
  if (def.reported === false) return false;
  if (def.reported !== undefined && major <= def.reported.until) return false;
  return true;
}

/** Clamp any server major to the libpq vocabularies known here (older → 15, newer → 18). */
export function libpqMajorFor(serverMajor: number): LibpqMajor {
  if (serverMajor <= 15) return 15;
  if (serverMajor >= 18) return 18;
  return serverMajor as LibpqMajor;
}
