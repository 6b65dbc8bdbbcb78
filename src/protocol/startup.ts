/**
 * The startup phase on an established (plain or TLS) channel: StartupMessage, the authentication
 * exchange (trust, cleartext, md5, SASL SCRAM-SHA-256[-PLUS]) and the messages up to the first
 * ReadyForQuery — libpq's CONNECTION_AWAITING_RESPONSE / CONNECTION_AUTH_OK states and pg_fe_sendauth().
 *
 * Failures throw ConnectFailure (connect-errors.ts) with libpq's text, without the host prefix.
 */
import type { TLSSocket } from 'node:tls';
import { formatServerMessage, type ServerErrorFields } from '../errors.js';
import { md5PasswordResponse } from './auth-md5.js';
import { SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramClient } from './auth-scram.js';
import type { BackendChannel } from './backend-channel.js';
import {
  AuthRequest,
  BackendMessageType as B,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeNegotiateProtocolVersion,
  decodeParameterStatus,
  decodeSaslMechanisms,
} from './backend-messages.js';
import { connectFailure, NO_PASSWORD_SUPPLIED } from './connect-errors.js';
import { passwordMessage, saslInitialResponse, saslResponse, startupMessage } from './frontend-messages.js';
import { tlsServerEndPointHash } from './tls-server-end-point.js';
import type { ConnectAttempt, NoticeFields } from './types.js';

/** Shared by all attempts of one open(): what PQconnectionNeedsPassword/UsedPassword report. */
export interface PasswordState {
  /** The server asked for a password (password_needed). */
  requested: boolean;
}

export interface StartupContext {
  attempt: ConnectAttempt;
  channel: BackendChannel;
  tlsSocket: TLSSocket | undefined;
  passwords: PasswordState;
  /** Fetch the password (memoized in `passwords`); the caller pauses connect_timeout meanwhile. */
  getPassword: () => Promise<string | undefined>;
  onNotice?: ((n: NoticeFields) => void) | undefined;
}

export interface StartupResult {
  parameters: Map<string, string>;
  backendPid: number;
  secretKey: Buffer;
  /** PQconnectionUsedPassword(): a password was sent to the server. */
  passwordUsed: boolean;
}

/** The startup parameters libpq's build_startup_packet() sends, in its order. */
export function startupParameters(attempt: ConnectAttempt): [string, string][] {
  const params: [string, string][] = [];
  const add = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== '') params.push([k, v]);
  };
  add('user', attempt.user);
  add('database', attempt.database);
  add('replication', attempt.replication);
  add('options', attempt.options);
  add('application_name', attempt.applicationName ?? attempt.fallbackApplicationName);
  for (const [k, v] of Object.entries(attempt.extraStartupParams ?? {})) add(k, v);
  return params;
}

function fail(message: string, extra: { serverError?: ServerErrorFields; passwordNeeded?: boolean } = {}): never {
  throw connectFailure(message, { ...extra, sqlState: extra.serverError?.code });
}

export async function runStartup(ctx: StartupContext): Promise<StartupResult> {
  const { attempt, channel } = ctx;
  channel.write(startupMessage(startupParameters(attempt)));
  const tls = ctx.tlsSocket !== undefined;
  const cb = attempt.channelBinding;
  let scram: ScramClient | undefined;
  let authOk = false;
  let passwordUsed = false;
  const parameters = new Map<string, string>();
  let key: { processId: number; secretKey: Buffer } | undefined;

  const password = async (): Promise<string> => {
    ctx.passwords.requested = true;
    const pw = await ctx.getPassword();
    if (pw === undefined || pw === '') fail(NO_PASSWORD_SUPPLIED, { passwordNeeded: true });
    passwordUsed = true;
    return pw;
  };

  for (;;) {
    const f = await channel.read();
    const type = String.fromCharCode(f.type);
    if (f.type === B.ErrorResponse) {
      const fields = decodeErrorFields(f.type, f.body);
      fail(formatServerMessage(fields), { serverError: fields });
    }
    if (!authOk) {
      if (f.type === B.NegotiateProtocolVersion) {
        const v = decodeNegotiateProtocolVersion(f.body);
        if (v.newestMinor !== 0) fail(`protocol version not supported by server: client uses 3.0, server supports up to 3.${v.newestMinor}`);
        fail(`protocol extension not supported by server: ${v.unsupportedOptions.join(', ')}`);
      }
      if (f.type !== B.Authentication) fail(`expected authentication request from server, but received ${type}`);
      const { code, payload } = decodeAuthentication(f.body);
      checkChannelBindingRequirement(cb, code, scram);
      switch (code) {
        case AuthRequest.Ok:
          authOk = true;
          break;
        case AuthRequest.CleartextPassword:
          channel.write(passwordMessage(await password()));
          break;
        case AuthRequest.MD5Password:
          channel.write(passwordMessage(md5PasswordResponse(attempt.user, await password(), payload.subarray(0, 4))));
          break;
        case AuthRequest.SASL: {
          if (cb === 'require' && !tls) fail('channel binding required, but SSL not in use');
          if (scram !== undefined) fail('duplicate SASL authentication request');
          const mechanism = selectMechanism(decodeSaslMechanisms(payload), tls, cb);
          const pw = await password();
          const cert = mechanism === SCRAM_SHA_256_PLUS ? ctx.tlsSocket?.getPeerX509Certificate() : undefined;
          scram = new ScramClient({
            password: pw,
            mechanism,
            channelBindingData: cert === undefined ? undefined : tlsServerEndPointHash(cert.raw),
            clientSupportsChannelBinding: tls && cb !== 'disable',
          });
          channel.write(saslInitialResponse(mechanism, Buffer.from(scram.clientFirstMessage(), 'utf8')));
          break;
        }
        case AuthRequest.SASLContinue:
        case AuthRequest.SASLFinal:
          if (scram === undefined) {
            fail('fe_sendauth: invalid authentication request from server: AUTH_REQ_SASL_CONT without AUTH_REQ_SASL');
          }
          if (code === AuthRequest.SASLContinue) {
            const reply = await scram.handleServerFirst(payload.toString('utf8'));
            channel.write(saslResponse(Buffer.from(reply, 'utf8')));
          } else {
            scram.handleServerFinal(payload.toString('utf8'));
          }
          break;
        default:
          fail(unsupportedAuthText(code));
      }
      continue;
    }
    switch (f.type) {
      case B.ParameterStatus: {
        const { name, value } = decodeParameterStatus(f.body);
        parameters.set(name, value);
        break;
      }
      case B.BackendKeyData:
        key = decodeBackendKeyData(f.body);
        break;
      case B.NoticeResponse:
        ctx.onNotice?.(decodeErrorFields(f.type, f.body));
        break;
      case B.ReadyForQuery:
        return { parameters, backendPid: key?.processId ?? 0, secretKey: key?.secretKey ?? Buffer.alloc(4), passwordUsed };
      default:
        fail('unexpected message from server during startup');
    }
  }
}

/** pg_SASL_init()'s mechanism choice. */
function selectMechanism(mechanisms: string[], tls: boolean, cb: ConnectAttempt['channelBinding']): typeof SCRAM_SHA_256 | typeof SCRAM_SHA_256_PLUS {
  let selected: typeof SCRAM_SHA_256 | typeof SCRAM_SHA_256_PLUS | undefined;
  for (const m of mechanisms) {
    if (m === SCRAM_SHA_256_PLUS) {
      if (!tls) fail('server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection');
      if (cb !== 'disable') selected = SCRAM_SHA_256_PLUS;
    } else if (m === SCRAM_SHA_256 && selected === undefined) {
      selected = SCRAM_SHA_256;
    }
  }
  if (selected === undefined) fail("none of the server's SASL authentication mechanisms are supported");
  if (cb === 'require' && selected !== SCRAM_SHA_256_PLUS) {
    fail('channel binding is required, but server did not offer an authentication method that supports channel binding');
  }
  return selected;
}

/** check_expected_areq(): with channel_binding=require, only a channel-bound SASL exchange may succeed. */
function checkChannelBindingRequirement(cb: ConnectAttempt['channelBinding'], code: number, scram: ScramClient | undefined): void {
  if (cb !== 'require') return;
  if (code === AuthRequest.SASL || code === AuthRequest.SASLContinue || code === AuthRequest.SASLFinal) return;
  if (code === AuthRequest.Ok) {
    if (scram === undefined || !scram.channelBound) fail('channel binding required, but server authenticated client without channel binding');
    return;
  }
  fail("channel binding required but not supported by server's authentication request");
}

function unsupportedAuthText(code: number): string {
  switch (code) {
    case AuthRequest.KerberosV4:
      return 'Kerberos 4 authentication not supported';
    case AuthRequest.KerberosV5:
      return 'Kerberos 5 authentication not supported';
    case AuthRequest.Crypt:
      return 'Crypt authentication not supported';
    case AuthRequest.GSS:
    case AuthRequest.GSSContinue:
      return 'GSSAPI authentication not supported';
    case AuthRequest.SSPI:
      return 'SSPI authentication not supported';
    default:
      return `authentication method ${code} not supported`;
  }
}
