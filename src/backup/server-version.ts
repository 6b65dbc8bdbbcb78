/**
 * Which servers this client talks to, and the version-dependent option checks pg_basebackup makes
 * after connecting.  One binary serves PostgreSQL 15 through 18 (the single-COPY-stream protocol).
 */
import { PgBasebackupError } from '../errors.js';
import type { BackupOptions } from '../options/backup-options.js';
import type { PgConnection } from '../protocol/connection.js';

export const MIN_SERVER_MAJOR = 15;
export const MAX_SERVER_MAJOR = 18;

export function checkServerVersion(conn: PgConnection, o: BackupOptions): void {
  const major = Math.floor(conn.serverVersionNum / 10000);
  if (major < MIN_SERVER_MAJOR || major > MAX_SERVER_MAJOR) {
    const v = conn.parameters.get('server_version') ?? "'unknown'";
    throw new PgBasebackupError('PGBB_USAGE', `incompatible server version ${v}`, {
      detail: `pg-basebackup supports PostgreSQL ${MIN_SERVER_MAJOR} to ${MAX_SERVER_MAJOR}.`,
    });
  }
  if (o.incrementalManifest !== undefined) {
    if (major < 17) throw new PgBasebackupError('PGBB_USAGE', 'server does not support incremental backup');
  }
  if (o.target !== undefined && o.writeRecoveryConf) {
    throw new PgBasebackupError('PGBB_USAGE', 'recovery configuration cannot be written when a backup target is used');
  }
}
