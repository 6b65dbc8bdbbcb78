import { describe, expect, it } from 'vitest';
import { planKeepalives, unappliedKeepaliveOptions } from '../../../src/conn/keepalive-options.js';

describe('keepalive options as libpq reads them (finding 7)', () => {
  it('default: on, with the system idle time', () => {
    expect(planKeepalives({})).toEqual({ kind: 'on', idleSeconds: undefined });
    expect(unappliedKeepaliveOptions({})).toEqual([]);
  });

  it('keepalives=0 turns them off (and nothing else is checked or applied)', () => {
    expect(planKeepalives({ keepalives: '0', keepalivesIdle: 'x' })).toEqual({ kind: 'off' });
    expect(unappliedKeepaliveOptions({ keepalives: '0', tcpUserTimeout: '5000' })).toEqual([]);
  });

  it('keepalives_idle in seconds; negative values are 0, which setsockopt refuses', () => {
    expect(planKeepalives({ keepalivesIdle: ' 30 ' })).toEqual({ kind: 'on', idleSeconds: 30 });
    expect(planKeepalives({ keepalivesIdle: '-5' })).toEqual({ kind: 'error', message: 'setsockopt(TCP_KEEPIDLE) failed: Invalid argument' });
    expect(planKeepalives({ keepalivesInterval: '0' })).toEqual({ kind: 'error', message: 'setsockopt(TCP_KEEPINTVL) failed: Invalid argument' });
    expect(planKeepalives({ keepalivesCount: '0' })).toEqual({ kind: 'error', message: 'setsockopt(TCP_KEEPCNT) failed: Invalid argument' });
  });

  it("pqParseIntParam's rules and message", () => {
    expect(planKeepalives({ keepalives: '1x' })).toEqual({ kind: 'error', message: 'invalid integer value "1x" for connection option "keepalives"' });
    expect(planKeepalives({ tcpUserTimeout: '' + 2 ** 31 })).toEqual({ kind: 'error', message: `invalid integer value "${2 ** 31}" for connection option "tcp_user_timeout"` });
  });

  it('what Node cannot set is reported, what libuv sets anyway is not', () => {
    expect(unappliedKeepaliveOptions({ keepalivesInterval: '5', keepalivesCount: '3', tcpUserTimeout: '100' })).toEqual([
      'keepalives_interval=5',
      'keepalives_count=3',
      'tcp_user_timeout=100',
    ]);
    expect(unappliedKeepaliveOptions({ keepalivesIdle: '20', keepalivesInterval: '1', keepalivesCount: '10', tcpUserTimeout: '0' })).toEqual([]);
    // Without an idle time libuv sets nothing: even interval=1 is then not what the socket gets.
    expect(unappliedKeepaliveOptions({ keepalivesInterval: '1' })).toEqual(['keepalives_interval=1']);
  });
});
