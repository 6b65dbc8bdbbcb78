/** A failure of the catalog command, printed as `pg-basebackup-catalog: error: <message>` (exit 1). */
import { PgBasebackupError, type ErrorCode, type ErrorOptions } from '../errors.js';

export const CATALOG_PROGNAME = 'pg-basebackup-catalog';

export class CatalogError extends PgBasebackupError {
  constructor(message: string, options: ErrorOptions & { code?: ErrorCode } = {}) {
    super(options.code ?? 'PGBB_FILE', message, options);
  }
}
