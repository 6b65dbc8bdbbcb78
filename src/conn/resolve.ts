/**
 * Connection resolution up to the host list, as libpq's PQconnectdbParams does it before dialling:
 * conninfo_array_parse → conninfo_add_defaults → pqConnectOptions2 (fe-connect.c).
 *
 * Host lists: `host`, `hostaddr` and `port` are comma lists.  With `hostaddr` its count decides the
 * number of entries and `host` must match it; a single port applies to every host, otherwise the counts
 * must match.  An empty host entry means the default unix socket directory; a host starting with `/`
 * or `@` is a socket directory.  Without a password option, each entry's password is looked up in the
 * password file, with the database name actually sent.
 */
import { ConnectionError } from '../errors.js';
import { addConnInfoDefaults, conninfoArrayParse, type ConnInfoPair } from './conninfo-defaults.js';
import type { ConnInfoValues } from './conninfo-parse.js';
import type { LibpqEnvironment } from './libpq-environment.js';
import { checkOptionValues } from './option-checks.js';
import { passwordFromFile } from './pgpass.js';

export type HostType = 'name' | 'address' | 'socket';

/** One entry of libpq's connhost[] array. */
export interface HostTarget {
  /** Host name or socket directory as given (or the default socket directory); may be empty with hostaddr. */
  host: string;
  hostaddr: string | undefined;
  /** Port text as given; undefined or empty means 5432. */
  port: string | undefined;
  type: HostType;
  /** Password found in the password file for this entry. */
  pgpassPassword: string | undefined;
}

/** The outcome of resolution: the option values the PGconn holds (what PQconninfo reports), and hosts. */
export interface ResolvedConnInfo {
  values: ConnInfoValues;
  hosts: HostTarget[];
}

export interface ResolveOptions {
  /** PQconnectdbParams' expand_dbname. */
  expandDbname: boolean;
  /** Random source in [0, 1) for load_balance_hosts=random (tests pass their own). */
  random?: () => number;
}

/** libpq's is_unixsock_path. */
export function isUnixSocketPath(path: string): boolean {
  return path.startsWith('/') || path.startsWith('@');
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

function countElems(list: string): number {
  return list.split(',').length;
}

/** Resolve keyword/value pairs (as given to PQconnectdbParams) into option values and a host list. */
export function resolveConnInfo(pairs: readonly ConnInfoPair[], environment: LibpqEnvironment, options: ResolveOptions): ResolvedConnInfo {
  const values = conninfoArrayParse(pairs, options.expandDbname);
  addConnInfoDefaults(values, environment);
  return connectOptions2(values, environment, options.random ?? Math.random);
}

/** pqConnectOptions2: host list, user and database defaults, password file, value checks. */
export function connectOptions2(values: ConnInfoValues, environment: LibpqEnvironment, random: () => number = Math.random): ResolvedConnInfo {
  const hosts = buildHostList(values, environment);

  if (!nonEmpty(values.get('user'))) {
    if (environment.osUser === undefined) throw new ConnectionError('could not look up local user ID: user name unknown');
    values.set('user', environment.osUser);
  }
  const user = values.get('user') as string;
  if (!nonEmpty(values.get('dbname'))) values.set('dbname', user);

  if (!nonEmpty(values.get('password'))) {
    if (!nonEmpty(values.get('passfile')) && environment.homeDir !== undefined) {
      values.set('passfile', `${environment.homeDir}/.pgpass`);
    }
    const passFile = values.get('passfile');
    if (nonEmpty(passFile)) {
      for (const h of hosts) {
        h.pgpassPassword = passwordFromFile({
          hostname: h.host !== '' ? h.host : h.hostaddr,
          port: h.port,
          dbname: values.get('dbname'),
          user,
          passFile,
          defaultSocketDir: environment.defaultSocketDir,
          warn: environment.warn,
        });
      }
    }
  }

  checkOptionValues(values);

  if (values.get('load_balance_hosts') === 'random') {
    // The "inside-out" Fisher-Yates shuffle libpq uses.
    for (let i = 1; i < hosts.length; i++) {
      const j = Math.floor(random() * (i + 1));
      const tmp = hosts[j] as HostTarget;
      hosts[j] = hosts[i] as HostTarget;
      hosts[i] = tmp;
    }
  }
  if (values.get('client_encoding') === 'auto') values.set('client_encoding', clientEncodingFromLocale(environment.env));
  return { values, hosts };
}

function buildHostList(values: ConnInfoValues, environment: LibpqEnvironment): HostTarget[] {
  const hostaddr = values.get('hostaddr');
  const host = values.get('host');
  const port = values.get('port');
  const n = nonEmpty(hostaddr) ? countElems(hostaddr) : nonEmpty(host) ? countElems(host) : 1;

  const hostaddrs = nonEmpty(hostaddr) ? hostaddr.split(',') : [];
  const hostNames = nonEmpty(host) ? host.split(',') : [];
  if (nonEmpty(host) && hostNames.length !== n) {
    throw new ConnectionError(`could not match ${hostNames.length} host names to ${n} hostaddr values`);
  }

  let ports: (string | undefined)[] = [];
  if (nonEmpty(port)) {
    ports = port.split(',');
    if (ports.length === 1) ports = new Array<string>(n).fill(ports[0] as string);
    else if (ports.length !== n) throw new ConnectionError(`could not match ${ports.length} port numbers to ${n} hosts`);
  }

  const hosts: HostTarget[] = [];
  for (let i = 0; i < n; i++) {
    const addr = hostaddrs[i];
    const name = hostNames[i] ?? '';
    let type: HostType;
    let hostValue = name;
    if (nonEmpty(addr)) type = 'address';
    else if (name !== '') type = isUnixSocketPath(name) ? 'socket' : 'name';
    else {
      type = 'socket';
      hostValue = environment.defaultSocketDir;
    }
    hosts.push({ host: hostValue, hostaddr: nonEmpty(addr) ? addr : undefined, port: ports[i], type, pgpassPassword: undefined });
  }
  return hosts;
}

/** client_encoding=auto: the encoding of the locale's character set (pg_get_encoding_from_locale). */
function clientEncodingFromLocale(env: NodeJS.ProcessEnv): string {
  const locale = env['LC_ALL'] || env['LC_CTYPE'] || env['LANG'] || 'C';
  const codeset = (/\.([^@]+)/.exec(locale)?.[1] ?? '').toLowerCase().replace(/[-_]/g, '');
  if (codeset === 'utf8') return 'UTF8';
  if (codeset === 'iso88591' || codeset === 'latin1') return 'LATIN1';
  if (codeset === 'iso885915' || codeset === 'latin9') return 'LATIN9';
  return 'SQL_ASCII';
}
