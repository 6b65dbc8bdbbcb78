/**
 * Node.js built-in modules (and, at the end, optional native npm packages) that most runs never use,
 * loaded on first use instead of at start-up:
 * TLS (only when a server accepts SSLRequest), DNS (only for a host name, not a socket directory or
 * hostaddr), child processes (only for syncfs through `sync`), the terminal (only to prompt for a
 * password) and stream pipelines (only to gzip pg_wal.tar after the fact).  Loading them up front cost every
 * run 2.5 MB of peak RSS on Node.js 20 and 4 MB on 24 (node:tls alone: 6.7 MB there), measured with
 * `node --max-semi-space-size=1` importing the same set with and without them.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const tlsModule = (): typeof import('node:tls') => require('node:tls');
export const dnsPromises = (): typeof import('node:dns/promises') => require('node:dns/promises');
export const ttyModule = (): typeof import('node:tty') => require('node:tty');
export const streamPromises = (): typeof import('node:stream/promises') => require('node:stream/promises');
/** Hashes, SCRAM and TLS keys: only where a run checksums, authenticates or uses TLS (5 ms, 1 MiB on 20). */
export const cryptoModule = (): typeof import('node:crypto') => require('node:crypto');
/** gzip, and zstd where the runtime has it: only for compressed output or input (2.6 ms, 0.3-0.5 MiB). */
export const zlibModule = (): typeof import('node:zlib') => require('node:zlib');
export const childProcess = (): typeof import('node:child_process') => require('node:child_process');
/** V8's flags: set only on Node.js 22 and later (src/cli/optimizing-tiers.ts); importing it costs 1.2 MB on 20. */
export const v8Module = (): typeof import('node:v8') => require('node:v8');

const optional = new Map<string, unknown>();

/**
 * An npm package with a native binary, loaded on first use too (1-2 MB and a few ms each at start-up),
 * or undefined where it cannot be loaded (no prebuilt binary for this platform): the caller then does
 * without it, as a pg build without the library would.  Loaded once; a failure is remembered.
 */
export function optionalPackage<T>(name: string): T | undefined {
  if (!optional.has(name)) {
    let lib: unknown;
    try {
      lib = require(name);
    } catch {
      lib = undefined;
    }
    optional.set(name, lib);
  }
  return optional.get(name) as T | undefined;
}
