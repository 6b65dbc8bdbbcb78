/**
 * The `error` event and the failed completion marker describe an error the same way: its stable
 * code, pg_basebackup's message, and the server's SQLSTATE when the failure came from the server
 * (found on the error or on its causes: e.g. "background process terminated unexpectedly" caused by
 * a walsender's ErrorResponse).
 */
import { PgBasebackupError } from '../errors.js';
import type { ErrorRecord } from './types.js';

const MAX_CAUSE_DEPTH = 8;

function sqlStateOf(err: unknown): string | null {
  let e: unknown = err;
  for (let i = 0; i < MAX_CAUSE_DEPTH && e !== undefined && e !== null; i++) {
    const s = (e as { sqlState?: unknown }).sqlState;
    if (typeof s === 'string' && s !== '') return s;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

export function errorRecord(err: unknown): ErrorRecord {
  if (err instanceof PgBasebackupError) {
    return {
      code: err.code,
      message: err.message.replace(/\n+$/, ''),
      sqlstate: sqlStateOf(err),
      detail: [...err.detail],
      hint: err.hint ?? null,
    };
  }
  return {
    code: 'PGBB_INTERNAL',
    message: err instanceof Error ? err.message : String(err),
    sqlstate: sqlStateOf(err),
    detail: [],
    hint: null,
  };
}
