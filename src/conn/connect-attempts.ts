/**
 * From resolved options to the per-host ConnectAttempts src/protocol/connection.ts opens, in the order
 * libpq tries them.  A host entry whose port is unusable becomes an error entry: libpq reports
 * `invalid port number` and moves on to the next host, but stops at a port that is not an integer.
 */
import { existsSync } from 'node:fs';
import { ConnectionError } from '../errors.js';
import type { ChannelBinding, ConnectAttempt, SslMode } from '../protocol/types.js';
import type { LibpqEnvironment } from './libpq-environment.js';
import { parseIntParam } from './option-checks.js';
import { planKeepalives, type KeepaliveOptions } from './keepalive-options.js';
import type { HostTarget, ResolvedConnInfo } from './resolve.js';

export type AttemptPlan =
  | { kind: 'attempt'; attempt: ConnectAttempt; target: HostTarget }
  /** `fatal`: stop here (libpq's error_return); otherwise try the next host. */
  | { kind: 'error'; message: string; fatal: boolean };

/** libpq's EnvironmentOptions: sent as startup parameters unless "default". */
const STARTUP_ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['PGDATESTYLE', 'datestyle'],
  ['PGTZ', 'timezone'],
  ['PGGEQO', 'geqo'],
];

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** connect_timeout in seconds as libpq applies it: unset or ≤ 0 = none, 1 = 2. */
export function connectTimeoutOf(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = parseIntParam(value, 'connect_timeout');
  if (n <= 0) return undefined;
  return n < 2 ? 2 : n;
}

/**
 * The client certificate files libpq would use: an explicit setting as given; otherwise
 * ~/.postgresql/postgresql.crt, postgresql.key and root.crt when they exist.  root.crt is also passed
 * when missing under sslmode verify-ca/verify-full, so the connection can report it as libpq does.
 */
function sslFiles(values: Map<string, string>, environment: LibpqEnvironment, sslMode: SslMode) {
  const dir = environment.homeDir === undefined ? undefined : `${environment.homeDir}/.postgresql`;
  const pick = (keyword: string, file: string, evenIfMissing: boolean): string | undefined => {
    const given = nonEmpty(values.get(keyword));
    if (given !== undefined || dir === undefined) return given;
    const path = `${dir}/${file}`;
    return evenIfMissing || existsSync(path) ? path : undefined;
  };
  return {
    sslRootCert: pick('sslrootcert', 'root.crt', sslMode.startsWith('verify')),
    sslCert: pick('sslcert', 'postgresql.crt', false),
    sslKey: pick('sslkey', 'postgresql.key', false),
  };
}

function replicationOf(value: string | undefined): 'true' | 'database' | undefined {
  if (value === 'database') return 'database';
  if (value !== undefined && ['true', 'on', 'yes', '1'].includes(value.toLowerCase())) return 'true';
  return undefined;
}

function startupExtras(values: Map<string, string>, env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  const extra: Record<string, string> = {};
  const encoding = nonEmpty(values.get('client_encoding'));
  if (encoding !== undefined) extra['client_encoding'] = encoding;
  for (const [envName, param] of STARTUP_ENVIRONMENT) {
    const v = env[envName];
    if (v !== undefined && v.toLowerCase() !== 'default') extra[param] = v;
  }
  return Object.keys(extra).length > 0 ? extra : undefined;
}

/** The keepalive options given (an empty value counts as not given, as in libpq). */
export function keepaliveOptionsOf(values: Map<string, string>): KeepaliveOptions {
  return {
    keepalives: nonEmpty(values.get('keepalives')),
    keepalivesIdle: nonEmpty(values.get('keepalives_idle')),
    keepalivesInterval: nonEmpty(values.get('keepalives_interval')),
    keepalivesCount: nonEmpty(values.get('keepalives_count')),
    tcpUserTimeout: nonEmpty(values.get('tcp_user_timeout')),
  };
}

/** Build the attempts for every host entry, in order. */
export function planAttempts(resolved: ResolvedConnInfo, environment: LibpqEnvironment): AttemptPlan[] {
  const { values } = resolved;
  const connectTimeout = connectTimeoutOf(values.get('connect_timeout'));
  const sslMode = values.get('sslmode') as SslMode;
  const files = sslFiles(values, environment, sslMode);
  const explicitPassword = nonEmpty(values.get('password'));
  const extraStartupParams = startupExtras(values, environment.env);
  const keepalives = planKeepalives(keepaliveOptionsOf(values));

  return resolved.hosts.map((target): AttemptPlan => {
    let port = 5432;
    if (target.port !== undefined && target.port !== '') {
      try {
        port = parseIntParam(target.port, 'port');
      } catch (e) {
        return { kind: 'error', message: (e as ConnectionError).message, fatal: true };
      }
      if (port < 1 || port > 65535) return { kind: 'error', message: `invalid port number: "${target.port}"`, fatal: false };
    }
    const password = explicitPassword ?? nonEmpty(target.pgpassPassword);
    const attempt: ConnectAttempt = {
      host: target.host !== '' ? target.host : (target.hostaddr as string),
      hostaddr: target.hostaddr,
      port,
      isUnixSocket: target.type === 'socket',
      user: values.get('user') as string,
      database: values.get('dbname') as string,
      replication: replicationOf(values.get('replication')),
      applicationName: nonEmpty(values.get('application_name')),
      fallbackApplicationName: nonEmpty(values.get('fallback_application_name')),
      options: nonEmpty(values.get('options')),
      sslMode,
      ...files,
      sslPassword: nonEmpty(values.get('sslpassword')),
      sslMinProtocolVersion: nonEmpty(values.get('ssl_min_protocol_version')),
      channelBinding: values.get('channel_binding') as ChannelBinding,
      connectTimeout,
      getPassword: async () => password,
      keepalives,
      extraStartupParams,
    };
    return { kind: 'attempt', attempt, target };
  });
}
