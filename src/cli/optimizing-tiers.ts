/**
 * Which of V8's optimizing compilers the pg_basebackup command runs with.
 *
 * A backup's JavaScript is glue around the kernel and native code (socket reads, writes, fsync,
 * checksums, compression); what gets hot is small (message framing, tar headers).  Where V8 has
 * Maglev, its mid-tier optimizing compiler (on by default from Node.js 22), that tier is enough, and
 * TurboFan's compilations cost more than they return: measured on Node.js 24.22 against a 1.5 GB
 * PostgreSQL 15 server (A/B over 5 runs each), peak RSS 67.9 -> 61.6 MiB plain, 66.3 -> 61.0 MiB tar,
 * 69.2 -> 63.5 MiB tar to a pipe, 69.6 -> 63.4 MiB with --verify, 89 -> 77 MiB with lz4, 91 -> 79
 * MiB with zstd:1, and client CPU 0.85-1.06x (no mode slower).  Node.js 20 has no Maglev by default:
 * without TurboFan its JavaScript would run in the baseline tiers only (measured there: +20% user
 * CPU), so it keeps both.
 *
 * The flag is set from code, not in the command's "#!" line, because that line is the same for
 * every Node.js version; it is set first thing, before anything has run long enough to be optimized
 * (Node.js warns that changing V8 flags later may have unpredictable effects).  Only the command
 * does this: the library leaves its host process's V8 as it is.
 */
import { v8Module } from '../lazy-builtins.js';

/** The first Node.js major whose V8 enables Maglev by default. */
const MAGLEV_BY_DEFAULT_FROM = 22;

/** Whether `nodeVersion` (process.versions.node) runs with Maglev by default. */
export function hasMaglevByDefault(nodeVersion: string): boolean {
  return Number(nodeVersion.split('.')[0]) >= MAGLEV_BY_DEFAULT_FROM;
}

/** Turn TurboFan off where Maglev optimizes instead; call once, at start-up. */
export function useMidTierOptimizerOnly(): void {
  if (hasMaglevByDefault(process.versions.node)) v8Module().setFlagsFromString('--no-turbofan');
}
