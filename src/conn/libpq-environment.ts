/**
 * What libpq reads from its surroundings: environment variables, the home directory, the operating
 * system user, the compiled-in socket directory and configuration directory.  Gathered in one object so
 * that resolution is a pure function of it (and tests can supply their own).
 */
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface LibpqEnvironment {
  env: NodeJS.ProcessEnv;
  /** pqGetHomeDirectory(): $HOME when set and non-empty, else the password database's entry. */
  homeDir: string | undefined;
  /** pg_fe_getauthname(): the effective user's name, the default for `user`. */
  osUser: string | undefined;
  /** DEFAULT_PGSOCKET_DIR: where the default (empty) host points. */
  defaultSocketDir: string;
  /** SYSCONFDIR: where pg_service.conf lives unless PGSYSCONFDIR says otherwise. */
  sysconfDir: string;
  /** libpq's stderr warnings (e.g. the .pgpass permission warning), one line without newline. */
  warn: (message: string) => void;
}

/**
 * Candidates for libpq's compiled-in unix socket directory: Debian's and PGDG's packages use
 * /var/run/postgresql, an upstream build uses /tmp.  The first that exists as a directory is used.
 */
export const SOCKET_DIR_CANDIDATES: readonly string[] = ['/var/run/postgresql', '/tmp'];

/** Debian's libpq has SYSCONFDIR=/etc/postgresql-common (pg_config --sysconfdir). */
export const DEFAULT_SYSCONFDIR = '/etc/postgresql-common';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The first of SOCKET_DIR_CANDIDATES that is a directory (else /tmp). */
export function defaultSocketDir(isDir: (path: string) => boolean = isDirectory): string {
  return SOCKET_DIR_CANDIDATES.find((d) => isDir(d)) ?? '/tmp';
}

function osUserInfo(): { username: string; homedir: string } | undefined {
  try {
    return userInfo();
  } catch {
    return undefined;
  }
}

/** The real surroundings of this process, with any part overridden. */
export function systemEnvironment(overrides: Partial<LibpqEnvironment> = {}): LibpqEnvironment {
  const env = overrides.env ?? process.env;
  const info = overrides.homeDir !== undefined && overrides.osUser !== undefined ? undefined : osUserInfo();
  const home = env['HOME'];
  return {
    env,
    homeDir: overrides.homeDir ?? (home !== undefined && home !== '' ? home : info?.homedir),
    osUser: overrides.osUser ?? info?.username,
    defaultSocketDir: overrides.defaultSocketDir ?? defaultSocketDir(),
    sysconfDir: overrides.sysconfDir ?? DEFAULT_SYSCONFDIR,
    // Library code never prints: without a callback, warnings are dropped (the CLI passes one).
    warn: overrides.warn ?? (() => undefined),
  };
}
