/**
 * The host loop of libpq's PQconnectPoll: try each host entry in order and collect each one's error
 * text.  libpq moves on to the next host only while no server has answered: the address could not be
 * resolved or reached (refused, timed out), the port was out of range, the server said "the database
 * system is starting up" (57P03, "cannot connect now"), or target_session_attrs did not match.  Once a
 * server has rejected us (authentication failed, no password, no such role ...) it stops.
 */
import { ConnectionError, PgBasebackupError } from '../errors.js';
import type { ConnectAttempt, NoticeFields } from '../protocol/types.js';
import type { AttemptPlan } from './connect-attempts.js';
import { connectedHostPrefix, targetSessionMismatch, type SessionStateSource, type TargetSessionAttrs } from './target-session.js';

export interface ConnectOptions {
  onNotice?: ((notice: NoticeFields) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Where ~/.postgresql is looked for (set by ConnectionFactory from its environment). */
  homeDir?: string | undefined;
}

export type Opener<C> = (attempt: ConnectAttempt, opts?: ConnectOptions) => Promise<C>;

export type HostsOutcome<C> =
  | { ok: true; connection: C }
  | { ok: false; message: string; passwordNeeded: boolean; cause: unknown };

const ERRCODE_CANNOT_CONNECT_NOW = '57P03';
const ERRCODE_INVALID_PASSWORD = '28P01';

/** Properties a failed open may carry (src/protocol/connection.ts's ConnectionError). */
interface OpenFailure {
  message?: unknown;
  passwordNeeded?: unknown;
  /** True when the failure happened before any server answered (a candidate for the next host). */
  beforeServerResponse?: unknown;
  /** SQLSTATE of a server ErrorResponse during start-up. */
  sqlState?: unknown;
  fields?: { code?: unknown };
}

function sqlStateOf(err: OpenFailure): string | undefined {
  if (typeof err.sqlState === 'string') return err.sqlState;
  if (typeof err.fields?.code === 'string') return err.fields.code;
  return undefined;
}

/**
 * libpq's texts for failures that happen before any server answers (connectFailureMessage, the
 * getaddrinfo and socket-path errors, pqWaitTimed's "timeout expired").  Used when the error does not
 * say so itself through `beforeServerResponse`.
 */
const NO_SERVER_ANSWER = [
  /\tIs the server running (locally and accepting connections on that socket|on that host and accepting TCP\/IP connections)\?$/,
  /could not translate host name "[^"]*" to address: [^\n]*$/,
  /could not parse network address "[^"]*": [^\n]*$/,
  /could not translate Unix-domain socket path "[^"]*" to address: [^\n]*$/,
  /Unix-domain socket path "[^"]*" is too long \(maximum \d+ bytes\)$/,
  /timeout expired$/,
];

/** Does libpq try the next host after this failure? */
export function triesNextHost(err: unknown): boolean {
  const e = (err ?? {}) as OpenFailure;
  if (e.passwordNeeded === true) return false;
  if (sqlStateOf(e) === ERRCODE_CANNOT_CONNECT_NOW) return true;
  if (typeof e.beforeServerResponse === 'boolean') return e.beforeServerResponse;
  const message = messageOf(err);
  return NO_SERVER_ANSWER.some((re) => re.test(message));
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PgBasebackupError('PGBB_ABORTED', 'connection attempt cancelled', { cause: signal.reason });
}

function messageOf(err: unknown): string {
  const m = (err as OpenFailure | undefined)?.message;
  return (typeof m === 'string' ? m : String(err)).replace(/\n+$/, '');
}

/** How tryHosts runs: libpq's password-file name for its warning, and target_session_attrs. */
export interface HostLoopOptions {
  /** Named in the error when a password taken from it was rejected (pgpassfileWarning). */
  passFile?: string | undefined;
  targetSessionAttrs?: TargetSessionAttrs | undefined;
}

interface ClosableSession extends SessionStateSource {
  close(): Promise<void>;
  readonly address?: string;
}

/**
 * Try the planned attempts in order.  With prefer-standby, a second pass accepts any server when no
 * standby was found (libpq's SERVER_TYPE_PREFER_STANDBY_PASS2).
 */
export async function tryHosts<C>(plans: readonly AttemptPlan[], opener: Opener<C>, opts: ConnectOptions, loop: HostLoopOptions = {}): Promise<HostsOutcome<C>> {
  const want = loop.targetSessionAttrs ?? 'any';
  const messages: string[] = [];
  const first = await onePass(plans, opener, opts, loop.passFile, want === 'prefer-standby' ? 'standby' : want, messages);
  if (first.ok || first.stopped || want !== 'prefer-standby') return finish(first, messages);
  return finish(await onePass(plans, opener, opts, loop.passFile, 'any', messages), messages);
}

type PassOutcome<C> = { ok: true; connection: C } | { ok: false; stopped: boolean; passwordNeeded: boolean; cause: unknown };

function finish<C>(outcome: PassOutcome<C>, messages: string[]): HostsOutcome<C> {
  if (outcome.ok) return outcome;
  return { ok: false, message: messages.join('\n'), passwordNeeded: outcome.passwordNeeded, cause: outcome.cause };
}

async function onePass<C>(
  plans: readonly AttemptPlan[],
  opener: Opener<C>,
  opts: ConnectOptions,
  passFile: string | undefined,
  want: Exclude<TargetSessionAttrs, 'prefer-standby'>,
  messages: string[],
): Promise<PassOutcome<C>> {
  let lastError: unknown;
  for (const plan of plans) {
    if (plan.kind === 'error') {
      messages.push(plan.message);
      lastError = new ConnectionError(plan.message);
      if (plan.fatal) return { ok: false, stopped: true, passwordNeeded: false, cause: lastError };
      continue;
    }
    throwIfAborted(opts.signal);
    let connection: C;
    try {
      connection = await opener(plan.attempt, opts);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      lastError = err;
      let message = messageOf(err);
      const failure = (err ?? {}) as OpenFailure;
      const fromPassFile = plan.target.pgpassPassword !== undefined && (await plan.attempt.getPassword()) === plan.target.pgpassPassword;
      if (sqlStateOf(failure) === ERRCODE_INVALID_PASSWORD && fromPassFile && passFile !== undefined) {
        message += `\npassword retrieved from file "${passFile}"`;
      }
      messages.push(message);
      if (!triesNextHost(err)) return { ok: false, stopped: true, passwordNeeded: failure.passwordNeeded === true, cause: err };
      continue;
    }
    if (want === 'any') return { ok: true, connection };
    const session = connection as unknown as ClosableSession;
    const mismatch = targetSessionMismatch(session, want);
    if (mismatch === undefined) return { ok: true, connection };
    await session.close();
    const message = connectedHostPrefix(plan.attempt, session.address ?? '') + mismatch;
    messages.push(message);
    lastError = new ConnectionError(message);
  }
  return { ok: false, stopped: false, passwordNeeded: false, cause: lastError };
}
