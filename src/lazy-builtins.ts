/**
 * Node.js built-in modules that most runs never use, loaded on first use instead of at start-up:
 * TLS (only when a server accepts SSLRequest), DNS (only for a host name, not a socket directory or
 * hostaddr), child processes (only for syncfs through `sync`), the terminal (only to prompt for a
 * password) and stream pipelines (only to gzip pg_wal.tar after the fact).  Loading them up front cost every
 * run 2.5 MB of peak RSS on Node.js 20 and 4 MB on 24 (node:tls alone: 6.7 MB there), measured with
 * `node --max-semi-space-size=1` importing the same set with and without them.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function tlsModule(): typeof import('node:tls') {
  return require('node:tls') as typeof import('node:tls');
}

export function dnsPromises(): typeof import('node:dns/promises') {
  return require('node:dns/promises') as typeof import('node:dns/promises');
}

export function ttyModule(): typeof import('node:tty') {
  return require('node:tty') as typeof import('node:tty');
}

export function streamPromises(): typeof import('node:stream/promises') {
  return require('node:stream/promises') as typeof import('node:stream/promises');
}

export function childProcess(): typeof import('node:child_process') {
  return require('node:child_process') as typeof import('node:child_process');
}
