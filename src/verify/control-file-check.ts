/**
 * The pg_control checks of a version-2 manifest (pg_verifybackup's verify_control_file and
 * astreamer_verify's member_verify_control_data): CRC, control file version, system identifier; any
 * failure is fatal.  Beyond PostgreSQL 18, which knows only its own version (1800), the layouts of
 * 17 (1700) are accepted too, so that backups of 17 servers verify.
 */
import { decodeControlFile, PG_CONTROL_FILE_SIZE, PG_CONTROL_VERSION_17, PG_CONTROL_VERSION_18, readControlFile } from '../pgdata/control-file.js';
import { PgBasebackupError } from '../errors.js';
import type { Reporter } from './report.js';

const KNOWN_VERSIONS = new Set([PG_CONTROL_VERSION_17, PG_CONTROL_VERSION_18]);

function check(
  prefix: string,
  c: { crcOk: boolean; pgControlVersion: number; systemIdentifier: bigint },
  manifestSystemIdentifier: bigint,
  reporter: Reporter,
): void {
  if (!c.crcOk) reporter.fatal(`${prefix}: CRC is incorrect`);
  if (!KNOWN_VERSIONS.has(c.pgControlVersion)) reporter.fatal(`${prefix}: unexpected control file version`);
  if (manifestSystemIdentifier !== c.systemIdentifier) {
    reporter.fatal(`${prefix}: manifest system identifier is ${manifestSystemIdentifier}, but control file has ${c.systemIdentifier}`);
  }
}

/** Plain format: read the file at its path (pg's texts on read failures). */
export function verifyControlFile(path: string, manifestSystemIdentifier: bigint, reporter: Reporter): void {
  let c;
  try {
    c = readControlFile(path);
  } catch (e) {
    if (e instanceof PgBasebackupError) reporter.fatal(e.message);
    throw e;
  }
  check(path, c, manifestSystemIdentifier, reporter);
}

/** Tar format: the member's bytes (the first struct-size bytes kept) and how many there were. */
export function verifyControlData(
  archive: string,
  path: string,
  head: Buffer,
  totalBytes: number,
  manifestSystemIdentifier: bigint,
  reporter: Reporter,
): void {
  if (totalBytes !== PG_CONTROL_FILE_SIZE) {
    reporter.fatal(`unexpected control file size ${totalBytes}, expected ${PG_CONTROL_FILE_SIZE}`);
  }
  check(`${archive}: ${path}`, decodeControlFile(head), manifestSystemIdentifier, reporter);
}
