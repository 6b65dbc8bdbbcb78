/**
 * Connection service files (fe-connect.c: parseServiceInfo, parseServiceFile).  A `service` option (or
 * PGSERVICE) names a `[section]` in PGSERVICEFILE or ~/.pg_service.conf, else in
 * `${PGSYSCONFDIR or SYSCONFDIR}/pg_service.conf`; the first file holding the section wins.  Its
 * `key=value` lines fill in options not given explicitly.
 *
 * LDAP lookups (`ldap://` lines) are not supported, as in a libpq built without LDAP.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConnectionError } from '../errors.js';
import { findConnInfoOption } from './conninfo-options.js';
import type { ConnInfoValues } from './conninfo-parse.js';
import type { LibpqEnvironment } from './libpq-environment.js';

/** libpq reads service files with fgets() into a 1024-byte buffer. */
const LINE_BUFFER_SIZE = 1024;

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** C isspace() in the "C" locale. */
function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

function trimSpace(line: string): string {
  let start = 0;
  let end = line.length;
  while (end > 0 && isSpace(line[end - 1])) end--;
  while (start < end && isSpace(line[start])) start++;
  return line.slice(start, end);
}

/** Split file contents the way successive fgets() calls see them (each line with its newline). */
function fgetsLines(data: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    const nl = data.indexOf(0x0a, start);
    const end = nl < 0 ? data.length : nl + 1;
    lines.push(data.subarray(start, end));
    start = end;
  }
  return lines;
}

/**
 * Read the section `service` of one file into `values` (only keys not yet present).
 * Returns whether the section was found.  Throws ConnectionError with libpq's texts.
 */
export function parseServiceFile(serviceFile: string, service: string, values: ConnInfoValues): boolean {
  let data: Buffer;
  try {
    data = readFileSync(serviceFile);
  } catch {
    throw new ConnectionError(`service file "${serviceFile}" not found`);
  }
  let groupFound = false;
  let linenr = 0;
  for (const raw of fgetsLines(data)) {
    linenr++;
    if (raw.length >= LINE_BUFFER_SIZE - 1) {
      throw new ConnectionError(`line ${linenr} too long in service file "${serviceFile}"`);
    }
    const line = trimSpace(raw.toString('utf8'));
    if (line === '' || line.startsWith('#')) continue;

    if (line.startsWith('[')) {
      if (groupFound) return true; // end of the wanted section
      groupFound = line.startsWith(service, 1) && line[service.length + 1] === ']';
      continue;
    }
    if (!groupFound) continue;

    const eq = line.indexOf('=');
    if (eq < 0) throw new ConnectionError(`syntax error in service file "${serviceFile}", line ${linenr}`);
    const key = line.slice(0, eq);
    const val = line.slice(eq + 1);
    if (key === 'service') {
      throw new ConnectionError(`nested service specifications not supported in service file "${serviceFile}", line ${linenr}`);
    }
    if (findConnInfoOption(key) === undefined) {
      throw new ConnectionError(`syntax error in service file "${serviceFile}", line ${linenr}`);
    }
    // Never override an explicit setting.
    if (!values.has(key)) values.set(key, val);
  }
  return groupFound;
}

/**
 * If a service is named (option `service`, else PGSERVICE), absorb its settings into `values`.
 * Throws `definition of service "%s" not found` when no file defines it.
 */
export function parseServiceInfo(values: ConnInfoValues, environment: LibpqEnvironment): void {
  const { env } = environment;
  const service = values.get('service') ?? env['PGSERVICE'];
  if (service === undefined) return;

  let userFile: string | undefined = env['PGSERVICEFILE'];
  if (userFile === undefined && environment.homeDir !== undefined) {
    const candidate = `${environment.homeDir}/.pg_service.conf`;
    if (exists(candidate)) userFile = candidate;
  }
  if (userFile !== undefined && parseServiceFile(userFile, service, values)) return;

  const sysconfDir = env['PGSYSCONFDIR'] ?? environment.sysconfDir;
  const systemFile = `${sysconfDir}/pg_service.conf`;
  if (exists(systemFile) && parseServiceFile(systemFile, service, values)) return;

  throw new ConnectionError(`definition of service "${service}" not found`);
}
