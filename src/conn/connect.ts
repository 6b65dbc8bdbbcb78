/**
 * Connecting the way pg_basebackup does (src/bin/pg_basebackup/streamutil.c GetConnection) on top of
 * libpq's resolution rules: -d parsed as a connection string, -h/-p/-U overriding it, dbname,
 * replication and fallback_application_name added; hosts tried in order; -W prompts first, otherwise a
 * server asking for a password that nobody supplied leads to a `Password: ` prompt and another try
 * (never with -w).  A prompted password is kept for later connections (the WAL streaming one).
 */
import { ConnectionError, PgBasebackupError } from '../errors.js';
import type { ConnectAttempt, NoticeFields } from '../protocol/types.js';
import type { PgConnection } from '../protocol/connection.js';
import { CONNINFO_OPTIONS } from './conninfo-options.js';
import { addConnInfoDefaults, type ConnInfoPair } from './conninfo-defaults.js';
import { parseConnInfo, type ConnInfoValues } from './conninfo-parse.js';
import { keepaliveOptionsOf, planAttempts, type AttemptPlan } from './connect-attempts.js';
import { unappliedKeepaliveOptions } from './keepalive-options.js';
import { systemEnvironment, type LibpqEnvironment } from './libpq-environment.js';
import { promptPassword } from './prompt-password.js';
import { buildRecoveryConnInfo } from './recovery-conninfo.js';
import { resolveConnInfo, type ResolvedConnInfo } from './resolve.js';
import type { TargetSessionAttrs } from './target-session.js';
import { tryHosts, type ConnectOptions, type Opener } from './try-hosts.js';

export interface ConnectionSettings {
  /** -d: a keyword/value connection string or URI. */
  connInfo?: string | undefined;
  /** -h, -p, -U. */
  host?: string | undefined;
  port?: string | undefined;
  user?: string | undefined;
  /** default, -w (never prompt), -W (prompt before connecting). */
  passwordMode: 'auto' | 'never' | 'always';
  replication: 'true' | 'database' | undefined;
  fallbackApplicationName: string;
  /** pg_basebackup 17+: a dbname given in -d is used (and written by -R) instead of "replication". */
  keepExplicitDbname?: boolean | undefined;
}

export interface ConnectionHooks<C = PgConnection> {
  opener?: Opener<C>;
  promptPassword?: (prompt: string) => Promise<string>;
  warn?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
  /** Override other parts of libpq's surroundings (socket directory, OS user ...), mainly for tests. */
  environment?: Partial<LibpqEnvironment>;
  /** Random source for load_balance_hosts=random. */
  random?: () => number;
}

/** The part of a connection recoveryConnInfo() needs. */
export interface ServerVersioned {
  readonly serverVersionNum: number;
}

const defaultOpener: Opener<PgConnection> = async (attempt, opts) => {
  const { PgConnection } = await import('../protocol/connection.js');
  return PgConnection.open(attempt, opts);
};

export class ConnectionFactory<C = PgConnection> {
  private readonly environment: LibpqEnvironment;
  private readonly opener: Opener<C>;
  private readonly prompt: (prompt: string) => Promise<string>;
  private parsedConnInfo: ConnInfoValues | undefined;
  /** A password obtained by prompting, reused for later connections. */
  private promptedPassword: string | undefined;
  private lastResolved: ResolvedConnInfo | undefined;
  private keepaliveWarned = false;

  /** -d is parsed when first needed (connect(), resolve()), as GetConnection does. */
  constructor(
    private readonly settings: ConnectionSettings,
    private readonly hooks: ConnectionHooks<C> = {},
  ) {
    this.environment = systemEnvironment({
      ...hooks.environment,
      ...(hooks.env !== undefined ? { env: hooks.env } : {}),
      ...(hooks.homeDir !== undefined ? { homeDir: hooks.homeDir } : {}),
      ...(hooks.warn !== undefined ? { warn: hooks.warn } : {}),
    });
    this.opener = hooks.opener ?? (defaultOpener as unknown as Opener<C>);
    this.prompt = hooks.promptPassword ?? ((p) => promptPassword(p));
  }

  /** -d parsed like PQconninfoParse; throws ConnectionError with libpq's text. */
  private get connInfoValues(): ConnInfoValues | undefined {
    if (this.settings.connInfo === undefined) return undefined;
    this.parsedConnInfo ??= parseConnInfo(this.settings.connInfo);
    return this.parsedConnInfo;
  }

  /** The password in use (prompted, or given by password= / PGPASSWORD), e.g. to keep it out of logs. */
  get password(): string | undefined {
    const password = this.promptedPassword ?? this.lastResolved?.values.get('password');
    return password === '' ? undefined : password;
  }

  /** The keyword/value pairs GetConnection hands to PQconnectdbParams, and its expand_dbname. */
  connectionPairs(): { pairs: ConnInfoPair[]; expandDbname: boolean } {
    const s = this.settings;
    const pairs: ConnInfoPair[] = [];
    const defaultDbname = s.replication === 'true' ? 'replication' : undefined;
    const given = this.connInfoValues;
    if (s.keepExplicitDbname) {
      pairs.push(['dbname', defaultDbname]);
      if (given) for (const o of CONNINFO_OPTIONS) pairs.push([o.keyword, given.get(o.keyword)]);
    } else {
      if (given) for (const o of CONNINFO_OPTIONS) if (o.keyword !== 'dbname') pairs.push([o.keyword, given.get(o.keyword)]);
      pairs.push(['dbname', defaultDbname]);
    }
    pairs.push(['replication', s.replication], ['fallback_application_name', s.fallbackApplicationName]);
    pairs.push(['host', s.host], ['user', s.user], ['port', s.port]);
    if (this.promptedPassword !== undefined) pairs.push(['password', this.promptedPassword]);
    return { pairs, expandDbname: !(s.keepExplicitDbname && given !== undefined) };
  }

  /** Resolve without connecting: option values and the attempts, in order. */
  resolve(): { resolved: ResolvedConnInfo; attempts: ConnectAttempt[] } {
    const { pairs, expandDbname } = this.connectionPairs();
    const resolved = resolveConnInfo(pairs, this.environment, { expandDbname, random: this.hooks.random });
    const attempts = planAttempts(resolved, this.environment).flatMap((p) => (p.kind === 'attempt' ? [p.attempt] : []));
    return { resolved, attempts };
  }

  /** Connect to the first host that accepts us. Throws ConnectionError with every host's error. */
  async connect(opts: ConnectOptions = {}): Promise<C> {
    void this.connInfoValues; // -d errors come before the -W prompt, as in GetConnection
    if (this.settings.passwordMode === 'always' && this.promptedPassword === undefined) {
      this.promptedPassword = await this.prompt('Password: ');
    }
    for (;;) {
      const { pairs, expandDbname } = this.connectionPairs();
      const resolved = resolveConnInfo(pairs, this.environment, { expandDbname, random: this.hooks.random });
      const plans = planAttempts(resolved, this.environment);
      this.warnUnappliedKeepalives(resolved, plans);
      const openOpts: ConnectOptions = { ...opts, homeDir: opts.homeDir ?? this.environment.homeDir };
      const outcome = await tryHosts(plans, this.opener, openOpts, {
        passFile: resolved.values.get('passfile'),
        targetSessionAttrs: resolved.values.get('target_session_attrs') as TargetSessionAttrs | undefined,
      });
      if (outcome.ok) {
        this.lastResolved = resolved;
        return outcome.connection;
      }
      if (outcome.passwordNeeded && this.settings.passwordMode !== 'never') {
        this.promptedPassword = await this.prompt('Password: ');
        continue;
      }
      throw new ConnectionError(outcome.message, { cause: outcome.cause });
    }
  }

  /** Once per factory: keepalive options a TCP connection would get from libpq but cannot from Node.js. */
  private warnUnappliedKeepalives(resolved: ResolvedConnInfo, plans: AttemptPlan[]): void {
    if (this.keepaliveWarned) return;
    this.keepaliveWarned = true;
    if (!plans.some((p) => p.kind === 'attempt' && !p.attempt.isUnixSocket)) return;
    for (const o of unappliedKeepaliveOptions(keepaliveOptionsOf(resolved.values))) {
      this.hooks.warn?.(`WARNING: connection option ${o} cannot be applied by this client (Node.js cannot set it) and is ignored`);
    }
  }

  /**
   * What pg_basebackup -R writes as primary_conninfo for a connection made by this factory, in the
   * vocabulary of the server's libpq.  `includePassword: false` leaves the password out.
   */
  recoveryConnInfo(conn: ServerVersioned, opts: { includePassword?: boolean } = {}): string {
    if (this.lastResolved === undefined) {
      throw new PgBasebackupError('PGBB_INTERNAL', 'recoveryConnInfo() called before a successful connect()');
    }
    return buildRecoveryConnInfo(this.lastResolved.values, Math.floor(conn.serverVersionNum / 10000), {
      includePassword: opts.includePassword ?? true,
      dbname: this.settings.keepExplicitDbname ? this.explicitDbname() : undefined,
    });
  }

  /** pg_basebackup 17's GetDbnameFromConnectionOptions: -d's dbname, else PGDATABASE or the service's. */
  private explicitDbname(): string | undefined {
    const fromConnInfo = this.connInfoValues?.get('dbname');
    if (fromConnInfo !== undefined && fromConnInfo !== '') return fromConnInfo;
    const defaults: ConnInfoValues = new Map();
    try {
      addConnInfoDefaults(defaults, this.environment);
    } catch {
      return undefined; // PQconndefaults ignores service file errors
    }
    const dbname = defaults.get('dbname');
    return dbname === '' ? undefined : dbname;
  }
}

export type { ConnectOptions, Opener } from './try-hosts.js';
export type { NoticeFields };
