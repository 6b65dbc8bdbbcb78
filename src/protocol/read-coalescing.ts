/**
 * Read coalescing for bulk COPY streams: interrupt moderation, done in user space.
 *
 * While a base backup or WAL stream is pumped, the server sends one CopyData message after another
 * (8-32 kB each, as its buffer fills).  A client that keeps up wakes for each of them: 56,000 reads
 * of 28 kB on average for a 1.6 GB `-Ft -D - > /dev/null`, each an epoll wake-up, a read, and a pass
 * through the event loop and the JavaScript pipeline; C's pg_basebackup pays the same wake-ups at a
 * fraction of the cost per pass.  After a small read (less than half the read buffer), the main
 * thread therefore waits a few microseconds before going back to the event loop, so that the
 * server's next messages gather in the socket and arrive in one read (the socket's buffer, about
 * 200 kB on Linux, holds far more than the server sends in that time, so the server does not block).
 * A full read waits for nothing: a client that is the slower side never waits here.
 *
 * Measured (pgbench scale 100, 1.6 GB, Node 20, 2 cores, farm-bench A/B against the build without it,
 * 6-7 pairs): `-Ft -D - > /dev/null` reads 56k -> 20k, client CPU 0.74x, wall 0.91x; plain -Xstream CPU
 * 0.79x, wall 0.94x; lz4 CPU 0.91x; zstd:1 CPU 0.95x; tar to a pipe read by another process: CPU 1.00x,
 * wall 1.05x (0.87-1.27).
 * Linux's SO_RCVLOWAT would do this in the kernel, but Node.js cannot set socket options.
 */
import { READ_BUFFER_BYTES } from './in-place-reads.js';

/** A read shorter than this (half the in-place read buffer) is followed by a wait. */
export const COALESCE_BELOW_BYTES = READ_BUFFER_BYTES / 2;
/** The wait: the kernel's timer slack (50 us by default) adds to it. */
export const COALESCE_MICROS = 20;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** How long to wait after a read of `bytes` (0: go straight back to the event loop). */
export function coalesceWaitMicros(bytes: number): number {
  return bytes > 0 && bytes < COALESCE_BELOW_BYTES ? COALESCE_MICROS : 0;
}

/** Wait after a read of `bytes`, if it was small (blocks the thread: nothing else runs meanwhile). */
export function coalesceAfterRead(bytes: number): void {
  const us = coalesceWaitMicros(bytes);
  if (us > 0) Atomics.wait(sleeper, 0, 0, us / 1000);
}
