/**
 * backup_label as pg_combinebackup reads and writes it (src/bin/pg_combinebackup/backup_label.c):
 * only four lines matter (START WAL LOCATION, START TIMELINE, INCREMENTAL FROM LSN/TLI), parsed with
 * sscanf's rules; every other line is kept as it is.  The label of a combined backup is the final
 * input's label without its INCREMENTAL FROM lines.
 */
import { FileError } from '../errors.js';
import type { Lsn, TimeLineId } from '../lsn.js';

export interface BackupLabelInfo {
  startTli: TimeLineId;
  startLsn: Lsn;
  /** 0 for a full backup. */
  previousTli: TimeLineId;
  /** 0n for a full backup. */
  previousLsn: Lsn;
}

const START_WAL_LOCATION = 'START WAL LOCATION';
const START_TIMELINE = 'START TIMELINE';
const INCREMENTAL_FROM_LSN = 'INCREMENTAL FROM LSN';
const INCREMENTAL_FROM_TLI = 'INCREMENTAL FROM TLI';

const NL = 0x0a;

/** The lines of `buf`, each with its newline (the last one may lack it). */
function* lines(buf: Buffer): Generator<Buffer> {
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(NL, at);
    const end = nl < 0 ? buf.length : nl + 1;
    yield buf.subarray(at, end);
    at = end;
  }
}

function startsWith(line: Buffer, prefix: string): boolean {
  return line.length >= prefix.length && line.toString('latin1', 0, prefix.length) === prefix;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || (c !== undefined && c >= 0x09 && c <= 0x0d);
}

/**
 * One unsigned scanf conversion (%X or %u) of `s` from `at`: leading white space, an optional sign,
 * for hex an optional 0x, then at least one digit.  Returns the 32-bit value and where it stopped.
 */
function scanUnsigned(s: Buffer, at: number, hex: boolean): { value: number; end: number } | undefined {
  let i = at;
  while (isSpace(s[i])) i++;
  let negative = false;
  if (s[i] === 0x2b || s[i] === 0x2d) {
    negative = s[i] === 0x2d;
    i++;
  }
  const digit = (c: number | undefined): number => {
    if (c === undefined) return -1;
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (!hex) return -1;
    if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
    if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
    return -1;
  };
  if (hex && s[i] === 0x30 && (s[i + 1] === 0x78 || s[i + 1] === 0x58) && digit(s[i + 2]) >= 0) i += 2;
  const first = i;
  let value = 0n;
  const base = hex ? 16n : 10n;
  for (; digit(s[i]) >= 0; i++) value = value * base + BigInt(digit(s[i]));
  if (i === first) return undefined;
  // strtoul saturates at ULONG_MAX, which the 32-bit store truncates.
  const max = (1n << 64n) - 1n;
  if (value > max) value = max;
  if (negative) value = (-value) & max;
  return { value: Number(value & 0xffffffffn), end: i };
}

/** sscanf(s, "%X/%X%n"): the LSN and the index after it. */
function scanLsn(line: Buffer, at: number): { lsn: Lsn; end: number } | undefined {
  const hi = scanUnsigned(line, at, true);
  if (hi === undefined || line[hi.end] !== 0x2f) return undefined;
  const lo = scanUnsigned(line, hi.end + 1, true);
  if (lo === undefined) return undefined;
  return { lsn: (BigInt(hi.value) << 32n) | BigInt(lo.value), end: lo.end };
}

/** sscanf(s, "%u%n") followed by a newline. */
function scanTli(line: Buffer, at: number): number | undefined {
  const r = scanUnsigned(line, at, false);
  if (r === undefined || line[r.end] !== NL) return undefined;
  return r.value;
}

/**
 * Parse a backup_label's contents.  `filename` is for the messages, which are pg's (`%s: could not
 * parse %s`, `%s: improper terminator for %s`, `%s: invalid TLI`, `%s: could not find %s`,
 * `%s: %s requires %s`).
 */
export function parseBackupLabel(filename: string, buf: Buffer): BackupLabelInfo {
  const fail = (msg: string): never => {
    throw new FileError(`${filename}: ${msg}`, filename);
  };
  const info: BackupLabelInfo = { startTli: 0, startLsn: 0n, previousTli: 0, previousLsn: 0n };
  let found = 0;
  for (const line of lines(buf)) {
    if (startsWith(line, `${START_WAL_LOCATION}: `)) {
      const r = scanLsn(line, START_WAL_LOCATION.length + 2);
      if (r === undefined) fail(`could not parse ${START_WAL_LOCATION}`);
      else {
        if (r.end >= line.length || line[r.end] !== 0x20) fail(`improper terminator for ${START_WAL_LOCATION}`);
        info.startLsn = r.lsn;
      }
      found |= 1;
    } else if (startsWith(line, `${START_TIMELINE}: `)) {
      const tli = scanTli(line, START_TIMELINE.length + 2);
      if (tli === undefined) fail(`could not parse TLI for ${START_TIMELINE}`);
      else if (tli === 0) fail('invalid TLI');
      else info.startTli = tli;
      found |= 2;
    } else if (startsWith(line, `${INCREMENTAL_FROM_LSN}: `)) {
      const r = scanLsn(line, INCREMENTAL_FROM_LSN.length + 2);
      if (r === undefined) fail(`could not parse ${INCREMENTAL_FROM_LSN}`);
      else {
        if (r.end >= line.length || line[r.end] !== NL) fail(`improper terminator for ${INCREMENTAL_FROM_LSN}`);
        info.previousLsn = r.lsn;
      }
      found |= 4;
    } else if (startsWith(line, `${INCREMENTAL_FROM_TLI}: `)) {
      const tli = scanTli(line, INCREMENTAL_FROM_TLI.length + 2);
      if (tli === undefined) fail(`could not parse ${INCREMENTAL_FROM_TLI}`);
      else if (tli === 0) fail('invalid TLI');
      else info.previousTli = tli;
      found |= 8;
    }
  }
  if ((found & 1) === 0) fail(`could not find ${START_WAL_LOCATION}`);
  if ((found & 2) === 0) fail(`could not find ${START_TIMELINE}`);
  if ((found & 4) !== 0 && (found & 8) === 0) fail(`${INCREMENTAL_FROM_LSN} requires ${INCREMENTAL_FROM_TLI}`);
  if ((found & 8) !== 0 && (found & 4) === 0) fail(`${INCREMENTAL_FROM_TLI} requires ${INCREMENTAL_FROM_LSN}`);
  return info;
}

/** The label of the combined backup: every line but the INCREMENTAL FROM LSN/TLI ones, byte for byte. */
export function withoutIncrementalLines(buf: Buffer): Buffer {
  const kept: Buffer[] = [];
  for (const line of lines(buf)) {
    if (!startsWith(line, `${INCREMENTAL_FROM_LSN}: `) && !startsWith(line, `${INCREMENTAL_FROM_TLI}: `)) kept.push(line);
  }
  return Buffer.concat(kept);
}
