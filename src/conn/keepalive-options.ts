/**
 * keepalives, keepalives_idle, keepalives_interval, keepalives_count and tcp_user_timeout, read as
 * libpq reads them (useKeepalives, setKeepalivesIdle/Interval/Count, setTCPUserTimeout: each value an
 * integer by pqParseIntParam's rules, negative values taken as 0, and a value Linux refuses (an idle
 * time, interval or count of 0) failing the address with libpq's setsockopt message), and applied as
 * far as Node.js can (src/protocol/keepalives.ts):
 *
 * - keepalives (default 1) and keepalives_idle: exactly;
 * - keepalives_interval and keepalives_count: Node cannot set them.  With keepalives_idle given,
 *   libuv sets them to 1 s and 10 probes (so interval=1 and count=10 are honoured exactly); without
 *   it the system's values stay.  Any other value is ignored with a warning;
 * - tcp_user_timeout: Node cannot set TCP_USER_TIMEOUT; 0 (the system default) is honoured, any other
 *   value is ignored with a warning.
 */
import type { KeepalivePlan } from '../protocol/keepalives.js';
import { parseIntParam } from './option-checks.js';

export interface KeepaliveOptions {
  keepalives?: string | undefined;
  keepalivesIdle?: string | undefined;
  keepalivesInterval?: string | undefined;
  keepalivesCount?: string | undefined;
  tcpUserTimeout?: string | undefined;
}

/** What libuv sets along with an idle time (see src/protocol/keepalives.ts). */
const LIBUV_INTERVAL = 1;
const LIBUV_COUNT = 10;

function nonNegative(value: string, keyword: string): number {
  return Math.max(0, parseIntParam(value, keyword));
}

/** The plan for a TCP connection, or the error libpq would report for the address. */
export function planKeepalives(o: KeepaliveOptions): KeepalivePlan {
  try {
    if (o.keepalives !== undefined && parseIntParam(o.keepalives, 'keepalives') === 0) return { kind: 'off' };
    let idleSeconds: number | undefined;
    if (o.keepalivesIdle !== undefined) {
      idleSeconds = nonNegative(o.keepalivesIdle, 'keepalives_idle');
      if (idleSeconds === 0) return { kind: 'error', message: 'setsockopt(TCP_KEEPIDLE) failed: Invalid argument' };
    }
    if (o.keepalivesInterval !== undefined && nonNegative(o.keepalivesInterval, 'keepalives_interval') === 0) {
      return { kind: 'error', message: 'setsockopt(TCP_KEEPINTVL) failed: Invalid argument' };
    }
    if (o.keepalivesCount !== undefined && nonNegative(o.keepalivesCount, 'keepalives_count') === 0) {
      return { kind: 'error', message: 'setsockopt(TCP_KEEPCNT) failed: Invalid argument' };
    }
    if (o.tcpUserTimeout !== undefined) nonNegative(o.tcpUserTimeout, 'tcp_user_timeout');
    return { kind: 'on', idleSeconds };
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
}

/** The options given that this client cannot apply (for a warning), as `keyword=value`; none when keepalives are off or invalid. */
export function unappliedKeepaliveOptions(o: KeepaliveOptions): string[] {
  const plan = planKeepalives(o);
  if (plan.kind !== 'on') return [];
  const out: string[] = [];
  const idleGiven = plan.idleSeconds !== undefined;
  const check = (keyword: string, value: string | undefined, libuvValue: number) => {
    if (value === undefined) return;
    const n = nonNegative(value, keyword);
    if (!idleGiven || n !== libuvValue) out.push(`${keyword}=${value}`);
  };
  check('keepalives_interval', o.keepalivesInterval, LIBUV_INTERVAL);
  check('keepalives_count', o.keepalivesCount, LIBUV_COUNT);
  if (o.tcpUserTimeout !== undefined && nonNegative(o.tcpUserTimeout, 'tcp_user_timeout') !== 0) out.push(`tcp_user_timeout=${o.tcpUserTimeout}`);
  return out;
}
