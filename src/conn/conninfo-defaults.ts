/**
 * Merging connection options the way libpq does before it looks at hosts (fe-connect.c:
 * conninfo_array_parse, conninfo_add_defaults): keyword/value pairs in order, later ones overriding
 * earlier ones; then the service file, then environment variables, then compiled defaults.
 */
import { ConnectionError } from '../errors.js';
import { CONNINFO_OPTIONS, findConnInfoOption } from './conninfo-options.js';
import { isConnInfoString, parseConnInfo, type ConnInfoValues } from './conninfo-parse.js';
import type { LibpqEnvironment } from './libpq-environment.js';
import { parseServiceInfo } from './service-file.js';

/** One keyword/value pair as PQconnectdbParams takes them; undefined or empty values are skipped. */
export type ConnInfoPair = readonly [keyword: string, value: string | undefined];

/**
 * conninfo_array_parse without defaults.  With `expandDbname`, the first `dbname` whose value looks
 * like a connection string is parsed, and its settings override what came before it (later pairs
 * still win); only that first `dbname` is considered.
 */
export function conninfoArrayParse(pairs: readonly ConnInfoPair[], expandDbname: boolean): ConnInfoValues {
  let dbnameOptions: ConnInfoValues | undefined;
  if (expandDbname) {
    const first = pairs.find(([k, v]) => k === 'dbname' && v !== undefined);
    if (first !== undefined && isConnInfoString(first[1] as string)) dbnameOptions = parseConnInfo(first[1] as string);
  }

  const values: ConnInfoValues = new Map();
  for (const [keyword, value] of pairs) {
    if (value === undefined || value === '') continue;
    if (findConnInfoOption(keyword) === undefined) throw new ConnectionError(`invalid connection option "${keyword}"`);
    if (keyword === 'dbname' && dbnameOptions !== undefined) {
      for (const [k, v] of dbnameOptions) values.set(k, v);
      dbnameOptions = undefined; // later dbname pairs are not expanded
    } else {
      values.set(keyword, value);
    }
  }
  return values;
}

/**
 * conninfo_add_defaults: fill unset options from the service file, then from environment variables
 * (PGREQUIRESSL=1 counts as sslmode=require), then from compiled defaults, then `user` from the
 * operating system.  With sslrootcert=system and no sslmode from anywhere, sslmode becomes verify-full.
 */
export function addConnInfoDefaults(values: ConnInfoValues, environment: LibpqEnvironment): void {
  parseServiceInfo(values, environment);
  const { env } = environment;
  let sslmodeDefaulted = false;
  for (const option of CONNINFO_OPTIONS) {
    if (values.has(option.keyword)) continue;
    if (option.envVar !== undefined) {
      const fromEnv = env[option.envVar];
      if (fromEnv !== undefined) {
        values.set(option.keyword, fromEnv);
        continue;
      }
    }
    if (option.keyword === 'sslmode') {
      if (env['PGREQUIRESSL']?.startsWith('1')) {
        values.set('sslmode', 'require');
        continue;
      }
      sslmodeDefaulted = true;
    }
    if (option.compiled !== undefined) {
      values.set(option.keyword, option.compiled);
      continue;
    }
    if (option.keyword === 'user' && environment.osUser !== undefined) values.set('user', environment.osUser);
  }
  if (sslmodeDefaulted && values.get('sslrootcert') === 'system') values.set('sslmode', 'verify-full');
}
