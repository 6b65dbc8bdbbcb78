/**
 * Opening one ConnectAttempt (one host entry), as PQconnectPoll() does for one connhost[] element:
 * resolve the addresses (hostaddr, DNS in resolver order, or the unix socket), then for each address
 * run the sslmode state machine until a connection is up or the addresses are exhausted:
 *
 *   disable      plain
 *   allow        plain; if the server rejects it with an ErrorResponse, once more with TLS
 *   prefer       SSLRequest; 'N' → plain on the same socket; handshake failure or a server rejection
 *                over TLS → once more without TLS
 *   require,     SSLRequest; 'N' fails ("server does not support SSL, but SSL was required")
 *   verify-ca/full
 *
 * Unix sockets never use TLS.  Every try appends "connection to server ... failed: <reason>\n" to the
 * error text, as libpq's errorMessage accumulates; a success discards it.  Only a failed connect() or
 * connect_timeout moves on to the next address; any later failure (TLS, authentication, a server
 * ErrorResponse) ends the attempt, as libpq's error_return does.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { InPlaceReads } from './in-place-reads.js';
import { applyKeepalives } from './keepalives.js';
import { homedir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { PgBasebackupError } from '../errors.js';
import { dnsPromises } from '../lazy-builtins.js';
import { BackendChannel } from './backend-channel.js';
import { abortedError, ConnectDeadline } from './connect-deadline.js';
import {
  connectFailure,
  connectFailureText,
  gaiStrerror,
  hostIdentityPrefix,
  isConnectFailure,
  unixSocketPath,
  type ConnectFailureInfo,
  type DialTarget,
} from './connect-errors.js';
import { runStartup, type PasswordState, type StartupResult } from './startup.js';
import { requestSsl, startTls } from './tls-negotiation.js';
import type { ConnectAttempt, NoticeFields } from './types.js';

const ERRCODE_CANNOT_CONNECT_NOW = '57P03';

export interface EstablishOptions {
  onNotice?: ((n: NoticeFields) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Where ~/.postgresql lives (default os.homedir()). */
  homeDir?: string | undefined;
  /** Receive queue bound before the socket is paused (default 1 MiB). */
  highWaterBytes?: number | undefined;
}

export interface Established {
  channel: BackendChannel;
  target: DialTarget;
  tls: boolean;
  startup: StartupResult;
}

interface AddressOutcome {
  established?: Established;
  errors: string;
  info?: ConnectFailureInfo | undefined;
  /** The address could not be reached (connect() failed or timed out): try the next one. */
  unreachable?: boolean;
}

export async function establishConnection(attempt: ConnectAttempt, opts: EstablishOptions = {}): Promise<Established> {
  if (opts.signal?.aborted) throw abortedError(opts.signal);
  const targets = await resolveTargets(attempt);
  const passwords: PasswordState = { requested: false };
  let passwordPromise: Promise<string | undefined> | undefined;
  let errors = '';
  let info: ConnectFailureInfo | undefined;
  let unreachable = true;
  for (const target of targets) {
    const deadline = new ConnectDeadline(attempt.connectTimeout, opts.signal);
    const getPassword = async () => {
      deadline.pause();
      try {
        passwordPromise ??= attempt.getPassword();
        return await passwordPromise;
      } finally {
        deadline.resume();
      }
    };
    try {
      const r = await tryAddress(attempt, target, deadline, passwords, getPassword, opts);
      if (r.established) return r.established;
      errors += r.errors;
      info = r.info;
      if (!r.unreachable) {
        unreachable = false;
        break;
      }
    } finally {
      deadline.dispose();
    }
  }
  const pw = passwordPromise === undefined ? undefined : await passwordPromise.catch(() => undefined);
  throw connectFailure(errors.replace(/\n$/, ''), {
    passwordNeeded: passwords.requested && (pw === undefined || pw === ''),
    sqlState: info?.sqlState,
    serverError: info?.serverError,
    beforeServerResponse: unreachable,
  });
}

async function resolveTargets(attempt: ConnectAttempt): Promise<DialTarget[]> {
  if (attempt.isUnixSocket) return [{ kind: 'unix', path: unixSocketPath(attempt.host, attempt.port) }];
  if (attempt.hostaddr !== undefined && attempt.hostaddr !== '') {
    const family = isIP(attempt.hostaddr);
    if (family === 0) throw connectFailure(`could not parse network address "${attempt.hostaddr}": Name or service not known`, { beforeServerResponse: true });
    return [{ kind: 'tcp', address: attempt.hostaddr, family, port: attempt.port }];
  }
  try {
    const addrs = await dnsPromises().lookup(attempt.host, { all: true });
    if (addrs.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
    return addrs.map((a) => ({ kind: 'tcp', address: a.address, family: a.family, port: attempt.port }));
  } catch (e) {
    throw connectFailure(`could not translate host name "${attempt.host}" to address: ${gaiStrerror(e)}`, { beforeServerResponse: true });
  }
}

/** Start connecting; `connected` settles when connect() succeeds or fails (with libpq's text). */
function dial(target: DialTarget): { socket: Socket; connected: Promise<void> } {
  // Read into one reusable buffer (in-place-reads.ts); the backend channel takes the reads in place.
  const reads = new InPlaceReads();
  const socket =
    target.kind === 'unix'
      ? netConnect({ path: target.path.startsWith('@') ? `\0${target.path.slice(1)}` : target.path, onread: reads.onread })
      : netConnect({ host: target.address, port: target.port, family: target.family, noDelay: true, onread: reads.onread });
  reads.bind(socket);
  const connected = new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(connectFailure(connectFailureText(e, target), { beforeServerResponse: true }, e));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return { socket, connected };
}

async function tryAddress(
  attempt: ConnectAttempt,
  target: DialTarget,
  deadline: ConnectDeadline,
  passwords: PasswordState,
  getPassword: () => Promise<string | undefined>,
  opts: EstablishOptions,
): Promise<AddressOutcome> {
  const mode = attempt.sslMode;
  let allowSsl = target.kind === 'tcp' && mode !== 'disable';
  let waitSsl = mode === 'allow';
  let errors = '';
  for (;;) {
    const prefix = hostIdentityPrefix(attempt, target);
    let socket: Socket | undefined;
    let tlsSocket: TLSSocket | undefined;
    const onAbort = () => {
      tlsSocket?.destroy();
      socket?.destroy();
    };
    deadline.signal.addEventListener('abort', onAbort);
    try {
      if (deadline.signal.aborted) throw deadline.signal.reason;
      const d = dial(target);
      socket = d.socket;
      await d.connected;
      socket.on('error', () => undefined); // reported through reads
      if (target.kind === 'tcp') {
        const plan = attempt.keepalives ?? { kind: 'on', idleSeconds: undefined };
        if (plan.kind === 'error') throw connectFailure(plan.message, { beforeServerResponse: true });
        applyKeepalives(socket, plan);
      }
      let prefill: Buffer | undefined;
      if (allowSsl && !waitSsl) {
        const { answer, rest } = await requestSsl(socket);
        if (answer === 0x53 /* S */) {
          if (rest.length > 0) throw connectFailure('received unencrypted data after SSL response');
          try {
            tlsSocket = await startTls(socket, attempt, opts.homeDir ?? homedir());
          } catch (e) {
            if (mode !== 'prefer' || deadline.signal.aborted) throw e;
            // Handshake failed: retry this address without TLS.
            errors += `${prefix}${messageOf(e)}\n`;
            allowSsl = false;
            socket.destroy();
            continue;
          }
        } else if (answer === 0x4e /* N */) {
          if (mode === 'require' || mode === 'verify-ca' || mode === 'verify-full') {
            throw connectFailure('server does not support SSL, but SSL was required');
          }
          prefill = rest;
        } else if (answer === 0x45 /* E */) {
          prefill = Buffer.concat([Buffer.from([answer]), rest]); // an ErrorResponse; let startup report it
        } else {
          throw connectFailure(`received invalid response to SSL negotiation: ${String.fromCharCode(answer)}`);
        }
      }
      const channel = new BackendChannel(tlsSocket ?? socket, { prefill, highWaterBytes: opts.highWaterBytes });
      const startup = await runStartup({ attempt, channel, tlsSocket, passwords, getPassword, onNotice: opts.onNotice });
      return { established: { channel, target, tls: tlsSocket !== undefined, startup }, errors };
    } catch (e) {
      tlsSocket?.destroy();
      socket?.destroy();
      if (deadline.aborted) throw abortedError(opts.signal);
      if (!(e instanceof PgBasebackupError) && !deadline.timedOut) {
        throw new PgBasebackupError('PGBB_INTERNAL', `unexpected failure while connecting: ${String(e)}`, { cause: e });
      }
      errors += `${prefix}${deadline.timedOut ? 'timeout expired' : messageOf(e)}\n`;
      const info = isConnectFailure(e) ? e : undefined;
      if (deadline.timedOut || info?.beforeServerResponse === true) return { errors, info, unreachable: true };
      if (info?.serverError !== undefined) {
        if (info.sqlState === ERRCODE_CANNOT_CONNECT_NOW) return { errors, info };
        if (mode === 'allow' && tlsSocket === undefined && allowSsl && waitSsl) {
          waitSsl = false; // the server refused plain: try TLS once
          continue;
        }
        if (mode === 'prefer' && tlsSocket !== undefined && allowSsl) {
          allowSsl = false; // the server refused TLS: try plain once
          continue;
        }
      }
      return { errors, info };
    } finally {
      deadline.signal.removeEventListener('abort', onAbort);
    }
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
