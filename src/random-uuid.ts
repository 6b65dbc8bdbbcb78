/**
 * A random (version 4) UUID for run identities (the completion marker's and status file's run_id),
 * from 16 bytes of /dev/urandom: node:crypto, which every run would otherwise load only for this,
 * costs 5 ms and 1 MiB of peak RSS at start-up (Node.js 20, after node:net).  Where /dev/urandom
 * cannot be read, node:crypto's randomUUID.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { cryptoModule } from './lazy-builtins.js';

export function randomUuid(): string {
  const b = Buffer.alloc(16);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    if (readSync(fd, b, 0, 16, null) === 16) return formatUuidV4(b);
  } catch {
    // fall through to node:crypto
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return cryptoModule().randomUUID();
}

/** RFC 9562's layout: version 4 in the high nibble of byte 6, variant 10 in the top bits of byte 8. */
export function formatUuidV4(random16: Buffer): string {
  const b = Buffer.from(random16.subarray(0, 16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
