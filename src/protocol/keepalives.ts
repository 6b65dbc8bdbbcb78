/**
 * TCP keepalives on a connected TCP socket, as libpq sets them in PQconnectPoll (src/conn/
 * keepalive-options.ts turns the connection options into a KeepalivePlan).  Unix sockets get none.
 *
 * What Node.js (libuv) can do, measured with strace on Node 20 / libuv 1.46:
 * - socket.setKeepAlive(false): SO_KEEPALIVE off;
 * - setKeepAlive(true, 0): SO_KEEPALIVE on and nothing else (libuv's TCP_KEEPIDLE of 0 fails and it
 *   stops there): the system's idle time, interval and count, which is libpq's default;
 * - setKeepAlive(true, N s): SO_KEEPALIVE, TCP_KEEPIDLE = N, and libuv ALSO sets TCP_KEEPINTVL = 1
 *   and TCP_KEEPCNT = 10.  Node exposes no way to set the interval, the count or TCP_USER_TIMEOUT.
 */
import type { Socket } from 'node:net';

export type KeepalivePlan =
  /** libpq would fail this address with `message` (an invalid value, or a setsockopt() that fails). */
  | { kind: 'error'; message: string }
  /** keepalives=0: SO_KEEPALIVE stays off (and libpq then sets no tcp_user_timeout either). */
  | { kind: 'off' }
  /** SO_KEEPALIVE on; `idleSeconds` (≥ 1) when keepalives_idle was given, else the system's. */
  | { kind: 'on'; idleSeconds: number | undefined };

export function applyKeepalives(socket: Socket, plan: KeepalivePlan): void {
  if (plan.kind === 'off') socket.setKeepAlive(false);
  else if (plan.kind === 'on') socket.setKeepAlive(true, plan.idleSeconds === undefined ? 0 : plan.idleSeconds * 1000);
}
