import { describe, expect, it } from 'vitest';
import { ConnectionError, PgBasebackupError, ServerError, UsageError } from '../../../src/errors.js';
import { errorRecord } from '../../../src/events/error-record.js';

const fields = { severity: 'ERROR', code: '42704', message: 'replication slot "x" does not exist' };

describe('errorRecord', () => {
  it("a server error: code, pg's message, SQLSTATE", () => {
    const e = new ServerError(fields).wrap('could not send replication command "START_REPLICATION"');
    expect(errorRecord(e)).toEqual({
      code: 'PGBB_SERVER',
      message: 'could not send replication command "START_REPLICATION": ERROR:  replication slot "x" does not exist',
      sqlstate: '42704',
      detail: [],
      hint: null,
    });
  });

  it('finds the SQLSTATE on a cause', () => {
    const e = new PgBasebackupError('PGBB_WAL_RECEIVER', 'background process terminated unexpectedly', { cause: new ServerError(fields) });
    expect(errorRecord(e)).toMatchObject({ code: 'PGBB_WAL_RECEIVER', sqlstate: '42704' });
  });

  it('usage errors keep hint and detail; other errors are internal', () => {
    expect(errorRecord(new UsageError('bad', { hint: true, detail: 'd' }))).toEqual({
      code: 'PGBB_USAGE',
      message: 'bad',
      sqlstate: null,
      detail: ['d'],
      hint: 'Try "pg_basebackup --help" for more information.',
    });
    expect(errorRecord(new ConnectionError('connection refused\n'))).toMatchObject({ code: 'PGBB_CONNECTION', message: 'connection refused' });
    expect(errorRecord(new Error('boom'))).toMatchObject({ code: 'PGBB_INTERNAL', message: 'boom', sqlstate: null });
  });
});
