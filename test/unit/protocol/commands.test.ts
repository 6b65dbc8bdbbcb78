import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, ProtocolError, ServerError } from '../../../src/errors.js';
import {
  createReplicationSlot,
  createReplicationSlotCommand,
  dropReplicationSlot,
  identifySystem,
  quoteIdent,
  readReplicationSlot,
  retrieveDataDirCreatePerm,
  retrieveWalSegSize,
  timelineHistory,
} from '../../../src/protocol/commands.js';
import { PgConnection } from '../../../src/protocol/connection.js';
import { FakeServer, type ClientStream } from './fake-server.js';
import { int16, int32, cstr } from './frames.js';

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** A server answering each query with `answer(c, sql)`, reporting `version`; returns an open connection. */
async function connect(answer: (c: ClientStream, sql: string) => void, version = '16.4'): Promise<{ conn: PgConnection; queries: string[] }> {
  const queries: string[] = [];
  server = await FakeServer.start(async (c) => {
    await c.readStartup();
    c.finishStartup({ server_version: version });
    for (;;) {
      const m = await c.readMessage();
      if (m.type === 'X') return;
      const sql = m.body.subarray(0, -1).toString();
      queries.push(sql);
      answer(c, sql);
      c.ready();
    }
  });
  return { conn: await PgConnection.open(server.attempt()), queries };
}

function rows(c: ClientStream, names: string[], data: (string | null)[][], tag = 'SELECT'): void {
  c.rowDescription(names);
  for (const r of data) c.dataRow(r);
  c.commandComplete(tag);
}

describe('IDENTIFY_SYSTEM', () => {
  it('parses the row', async () => {
    const { conn } = await connect((c) => rows(c, ['systemid', 'timeline', 'xlogpos', 'dbname'], [['7384', '3', '1/2A000060', 'postgres']]));
    expect(await identifySystem(conn)).toEqual({ systemId: '7384', timeline: 3, xlogPos: 0x12a000060n, dbName: 'postgres' });
    conn.destroy();
  });

  it('checks the shape and the LSN with pg\'s texts', async () => {
    const { conn } = await connect((c, sql) => {
      if (sql === 'IDENTIFY_SYSTEM') rows(c, ['a', 'b'], [['1', '2']]);
    });
    await expect(identifySystem(conn)).rejects.toThrow(
      new ProtocolError('could not identify system: got 1 rows and 2 fields, expected 1 rows and 3 or more fields'),
    );
    conn.destroy();
    await server?.stop();
    const { conn: c2 } = await connect((c) => rows(c, ['systemid', 'timeline', 'xlogpos', 'dbname'], [['1', '1', 'garbage', null]]));
    await expect(identifySystem(c2)).rejects.toThrow('could not parse write-ahead log location "garbage"');
    c2.destroy();
  });

  it('prefixes server errors', async () => {
    const { conn } = await connect((c) => c.error({ S: 'ERROR', C: '42601', M: 'syntax error' }));
    const e = await identifySystem(conn).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ServerError);
    expect((e as Error).message).toBe('could not send replication command "IDENTIFY_SYSTEM": ERROR:  syntax error');
    conn.destroy();
  });

  it('prefixes a lost connection', async () => {
    const { conn } = await connect((c) => c.socket.destroy());
    const e = await identifySystem(conn).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as Error).message).toMatch(/^could not send replication command "IDENTIFY_SYSTEM": server closed the connection unexpectedly\n/);
  });
});

describe('SHOW wal_segment_size', () => {
  it.each([
    ['16MB', 16 * 1024 * 1024],
    ['1GB', 1024 * 1024 * 1024],
    ['1MB', 1024 * 1024],
  ])('%s → %d', async (value, bytes) => {
    const { conn } = await connect((c) => rows(c, ['wal_segment_size'], [[value]]));
    expect(await retrieveWalSegSize(conn)).toBe(bytes);
    conn.destroy();
  });

  it.each([
    ['3MB', 'WAL segment size must be a power of two between 1 MB and 1 GB, but the remote server reported a value of 3145728 bytes'],
    ['64kB', 'WAL segment size must be a power of two between 1 MB and 1 GB, but the remote server reported a value of 64 bytes'],
    ['1x', 'WAL segment size must be a power of two between 1 MB and 1 GB, but the remote server reported a value of 1 byte'],
    ['16', 'WAL segment size could not be parsed'],
  ])('%s fails: %s', async (value, text) => {
    const { conn } = await connect((c) => rows(c, ['wal_segment_size'], [[value]]));
    await expect(retrieveWalSegSize(conn)).rejects.toThrow(new ProtocolError(text));
    conn.destroy();
  });

  it('checks the shape', async () => {
    const { conn } = await connect((c) => rows(c, ['wal_segment_size'], []));
    await expect(retrieveWalSegSize(conn)).rejects.toThrow(
      'could not fetch WAL segment size: got 0 rows and 1 fields, expected 1 rows and 1 or more fields',
    );
    conn.destroy();
  });
});

describe('SHOW data_directory_mode', () => {
  it('parses octal', async () => {
    const { conn } = await connect((c) => rows(c, ['data_directory_mode'], [['0750']]));
    expect(await retrieveDataDirCreatePerm(conn)).toBe(0o750);
    conn.destroy();
  });

  it('reports garbage', async () => {
    const { conn } = await connect((c) => rows(c, ['data_directory_mode'], [['rwx']]));
    await expect(retrieveDataDirCreatePerm(conn)).rejects.toThrow('group access flag could not be parsed: rwx');
    conn.destroy();
  });
});

describe('replication slots', () => {
  it('CREATE_REPLICATION_SLOT syntax: 15+ option list, legacy keywords before 15', () => {
    const o = { name: 'pg_basebackup_42', temporary: true, reserveWal: true };
    expect(createReplicationSlotCommand(150000, o)).toBe('CREATE_REPLICATION_SLOT "pg_basebackup_42" TEMPORARY PHYSICAL ( RESERVE_WAL)');
    expect(createReplicationSlotCommand(140000, o)).toBe('CREATE_REPLICATION_SLOT "pg_basebackup_42" TEMPORARY PHYSICAL  RESERVE_WAL');
    expect(createReplicationSlotCommand(170000, { name: 's', temporary: false, reserveWal: false })).toBe('CREATE_REPLICATION_SLOT "s" PHYSICAL');
    expect(quoteIdent('a"b')).toBe('"a""b"');
  });

  it('create checks 1 row and 4 fields; drop checks 0 and 0', async () => {
    const { conn, queries } = await connect((c, sql) => {
      if (sql.startsWith('CREATE')) rows(c, ['slot_name', 'consistent_point', 'snapshot_name', 'output_plugin'], [['s1', '0/0', null, null]]);
      else if (sql.startsWith('DROP')) c.commandComplete('DROP_REPLICATION_SLOT');
    });
    expect(await createReplicationSlot(conn, { name: 's1', temporary: false, reserveWal: true })).toEqual({ slotName: 's1', consistentPoint: '0/0' });
    await dropReplicationSlot(conn, 's1');
    expect(queries).toEqual(['CREATE_REPLICATION_SLOT "s1" PHYSICAL ( RESERVE_WAL)', 'DROP_REPLICATION_SLOT "s1"']);
    conn.destroy();
  });

  it('shape errors name the slot', async () => {
    const { conn } = await connect((c) => rows(c, ['slot_name'], [['s1']]));
    await expect(createReplicationSlot(conn, { name: 's1', temporary: false, reserveWal: true })).rejects.toThrow(
      'could not create replication slot "s1": got 1 rows and 1 fields, expected 1 rows and 4 fields',
    );
    await expect(dropReplicationSlot(conn, 's1')).rejects.toThrow(
      'could not drop replication slot "s1": got 1 rows and 1 fields, expected 0 rows and 0 fields',
    );
    conn.destroy();
  });

  it('READ_REPLICATION_SLOT: values, missing slot, wrong type', async () => {
    const answers: (string | null)[][] = [
      ['physical', '0/3000148', '1'],
      [null, null, null],
      ['logical', null, null],
      ['physical', null, null],
    ];
    let i = 0;
    const { conn, queries } = await connect((c) => rows(c, ['slot_type', 'restart_lsn', 'restart_tli'], [answers[i++] as (string | null)[]]));
    expect(await readReplicationSlot(conn, 'a')).toEqual({ slotType: 'physical', restartLsn: 0x3000148n, restartTli: 1 });
    await expect(readReplicationSlot(conn, 'b')).rejects.toThrow('replication slot "b" does not exist');
    await expect(readReplicationSlot(conn, 'c')).rejects.toThrow('expected a physical replication slot, got type "logical" instead');
    expect(await readReplicationSlot(conn, 'd')).toEqual({ slotType: 'physical', restartLsn: undefined, restartTli: undefined });
    expect(queries[0]).toBe('READ_REPLICATION_SLOT a');
    conn.destroy();
  });
});

describe('TIMELINE_HISTORY', () => {
  it('returns the file name and the raw bytes of the content', async () => {
    const content = Buffer.from('1\t0/3000000\tno recovery target specified\n\xff', 'latin1');
    const { conn, queries } = await connect((c) => {
      c.rowDescription(['filename', 'content']);
      c.send('D', Buffer.concat([int16(2), int32(16), Buffer.from('00000002.history'), int32(content.length), content]));
      c.commandComplete('TIMELINE_HISTORY');
    });
    const h = await timelineHistory(conn, 2);
    expect(h.fileName).toBe('00000002.history');
    expect(h.content.equals(content)).toBe(true);
    expect(queries).toEqual(['TIMELINE_HISTORY 2']);
    conn.destroy();
  });

  it('checks the shape', async () => {
    const { conn } = await connect((c) => c.send('C', cstr('TIMELINE_HISTORY')));
    await expect(timelineHistory(conn, 2)).rejects.toThrow(
      'unexpected response to TIMELINE_HISTORY command: got 0 rows and 0 fields, expected 1 rows and 2 fields',
    );
    conn.destroy();
  });
});
