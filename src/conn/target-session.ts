/**
 * target_session_attrs (fe-connect.c, CONNECTION_CHECK_TARGET): after a server accepted the
 * connection, libpq checks whether it is the kind asked for and otherwise closes it and tries the next
 * host.  Servers 14+ report `in_hot_standby` and `default_transaction_read_only` at start-up, so the
 * ParameterStatus values are enough (no SHOW query is needed for the servers this client supports).
 *
 * prefer-standby makes two passes over the hosts: standbys only, then any server.
 */
import type { ConnectAttempt } from '../protocol/types.js';

export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';

/** What a connection must expose for the check. */
export interface SessionStateSource {
  readonly parameters: ReadonlyMap<string, string>;
}

/** libpq's reason for rejecting the server, or undefined when it fits. */
export function targetSessionMismatch(conn: SessionStateSource, want: Exclude<TargetSessionAttrs, 'prefer-standby'>): string | undefined {
  if (want === 'any') return undefined;
  const inHotStandby = conn.parameters.get('in_hot_standby') === 'on';
  const readOnly = conn.parameters.get('default_transaction_read_only') === 'on' || inHotStandby;
  switch (want) {
    case 'read-write':
      return readOnly ? 'session is read-only' : undefined;
    case 'read-only':
      return readOnly ? undefined : 'session is not read-only';
    case 'primary':
      return inHotStandby ? 'server is in hot standby mode' : undefined;
    case 'standby':
      return inHotStandby ? undefined : 'server is not in hot standby mode';
  }
}

/**
 * emitHostIdentityInfo(): the "connection to server ... failed: " prefix for a server we are connected
 * to, given what was dialled (`address`: the IP address, or the socket file).
 */
export function connectedHostPrefix(attempt: ConnectAttempt, address: string): string {
  if (attempt.isUnixSocket) return `connection to server on socket "${address}" failed: `;
  const usesHostaddr = attempt.hostaddr !== undefined && attempt.hostaddr !== '';
  const shown = usesHostaddr ? (attempt.hostaddr as string) : attempt.host;
  if (!usesHostaddr && address !== '' && shown !== address) {
    return `connection to server at "${shown}" (${address}), port ${attempt.port} failed: `;
  }
  return `connection to server at "${shown}", port ${attempt.port} failed: `;
}
