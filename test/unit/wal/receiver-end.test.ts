/**
 * WalReceiver against a scripted replication connection (2): stopping before and after the last WAL
 * arrived, pg's messages for each way a stream can end, and timeline switches with and without COPY.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionError, ServerError } from '../../../src/errors.js';
import {
  commandComplete,
  copyBoth,
  copyDone,
  keepalive,
  last,
  rejection,
  resultSet,
  S,
  settle,
  setup,
  streaming,
  walBytes,
  xlogData,
  type Session,
} from './fake-wal-conn.js';

describe('stopping', () => {
  it('end position known before the last WAL arrived: CopyDone right after the message that reaches it', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    await settle();
    const s = last(conn);
    s.push(xlogData(3n * S, walBytes(3n * S, 3n * S + 100n)));
    await settle();
    receiver.stop(3n * S + 150n);
    await settle();
    expect(conn.copyDoneSent).toBe(0);
    s.push(xlogData(3n * S + 100n, walBytes(3n * S + 100n, 3n * S + 200n)));
    // WAL after our CopyDone is ignored.
    conn.onCopyDone = (sess) => {
      sess.push(xlogData(3n * S + 200n, Buffer.alloc(50)), keepalive(0n, true), copyDone, commandComplete());
      sess.end();
    };
    await run;
    expect(conn.copyDoneSent).toBe(1);
    expect(receiver.position).toBe(3n * S + 200n);
    expect(conn.status).toEqual([]);
  });

  it('end position known after all WAL arrived: stops at once, with no further message from the server', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    await settle();
    last(conn).push(xlogData(3n * S, walBytes(3n * S, 3n * S + 400n)));
    await settle();
    receiver.stop(3n * S + 400n);
    await run;
    expect(conn.copyDoneSent).toBe(1);
  });

  it('end position given while the last message is still being written: stops with no further message', async () => {
    const { conn, writer, receiver } = setup();
    let release: () => void = () => undefined;
    const open = writer.openSegment.bind(writer);
    writer.openSegment = async (name) => {
      const seg = await open(name);
      return { ...seg, write: (o, d) => new Promise<void>((r) => (release = () => void seg.write(o, d).then(r))) };
    };
    streaming(conn);
    const run = receiver.run();
    await settle();
    last(conn).push(xlogData(3n * S, walBytes(3n * S, 3n * S + 400n)));
    await settle();
    receiver.stop(3n * S + 400n); // the write above has not finished yet
    release();
    await run;
    expect(conn.copyDoneSent).toBe(1);
  });

  it('end position already reached at the start point: no START_REPLICATION at all', async () => {
    const { conn, receiver } = setup();
    receiver.stop(2n * S);
    await receiver.run();
    expect(conn.sql).toEqual([]);
  });

  it('end position known before COPY starts and equal to the start: CopyDone at once', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    receiver.stop(3n * S);
    await run;
    expect(conn.sql).toEqual(['START_REPLICATION 0/300000 TIMELINE 1']);
    expect(conn.copyDoneSent).toBe(1);
  });

  it('server ends the stream before the stop point: "replication stream was terminated before stop point"', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const failure = rejection(receiver.run());
    await settle();
    const s = last(conn);
    s.push(xlogData(3n * S, walBytes(3n * S, 3n * S + 100n)), copyDone, commandComplete());
    s.end();
    // As in pg, the stream's end is judged when it happens: the stop point is not known yet.
    expect((await failure).message).toBe('replication stream was terminated before stop point');
    expect(conn.copyDoneSent).toBe(1); // it did answer the server's CopyDone
  });

  it('server ends the stream (controlled shutdown) after the stop point was reached: fine', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    receiver.stop(3n * S + 100n);
    const run = receiver.run();
    await settle();
    conn.onCopyDone = () => undefined;
    const s = last(conn);
    s.push(xlogData(3n * S, walBytes(3n * S, 3n * S + 100n)), copyDone, commandComplete());
    s.end();
    await run;
  });
});

describe('how failures read', () => {
  const fatal = new ServerError({ severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' });

  it('an error answering START_REPLICATION', async () => {
    const { conn, receiver } = setup();
    conn.onQuery = (s) => s.fail(new ServerError({ severity: 'ERROR', code: '58P01', message: 'requested WAL segment 000000010000000000000003 has already been removed' }));
    expect((await rejection(receiver.run())).message).toBe(
      'could not send replication command "START_REPLICATION": ERROR:  requested WAL segment 000000010000000000000003 has already been removed',
    );
  });

  it('the walsender terminated while streaming', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    await settle();
    last(conn).fail(fatal);
    expect((await rejection(run)).message).toBe('unexpected termination of replication stream: FATAL:  terminating connection due to administrator command');
  });

  it('the connection lost while streaming', async () => {
    const { conn, receiver } = setup();
    streaming(conn);
    const run = receiver.run();
    await settle();
    last(conn).fail(new ConnectionError('server closed the connection unexpectedly'));
    expect((await rejection(run)).message).toBe('could not receive data from WAL stream: server closed the connection unexpectedly');
  });

  it('a next timeline that does not follow, and one that begins after where the old one stopped', async () => {
    for (const [row, text] of [
      [['1', '0/380000'], 'server reported unexpected next timeline 1, following timeline 1'],
      [['2', '0/380000'], 'server stopped streaming timeline 1 at 0/300100, but reported next timeline 2 to begin at 0/380000'],
    ] as const) {
      const { conn, receiver } = setup();
      streaming(conn);
      conn.onCopyDone = (s) => {
        s.push(...resultSet(['next_tli', 'next_tli_startpos'], [...row]), commandComplete());
        s.end();
      };
      const run = receiver.run();
      await settle();
      last(conn).push(xlogData(3n * S, walBytes(3n * S, 3n * S + 0x100n)), copyDone);
      expect((await rejection(run)).message).toBe(text);
    }
  });
});

describe('timeline switches', () => {
  const history2 = '1\t0/3800A0\tno recovery target specified\n';

  function serveHistory(s: Session): boolean {
    if (!s.sql.startsWith('TIMELINE_HISTORY')) return false;
    const tli = Number(s.sql.split(' ')[1]);
    s.push(...resultSet(['filename', 'content'], [`0000000${tli}.history`, history2], 'TIMELINE_HISTORY'));
    s.end();
    return true;
  }

  it('follows the result set after COPY: history file (done), restart at the segment start on the new timeline', async () => {
    const { conn, writer, receiver } = setup();
    const switchAt = 3n * S + 0x800a0n;
    let starts = 0;
    conn.onQuery = (s) => {
      if (serveHistory(s)) return;
      starts++;
      s.push(copyBoth);
      if (starts === 1) {
        // Timeline 1 ends at the switch point: data up to it, then the server's CopyDone.
        s.push(xlogData(3n * S, walBytes(3n * S, switchAt)), copyDone);
      }
    };
    conn.onCopyDone = (s) => {
      if (starts === 1) s.push(...resultSet(['next_tli', 'next_tli_startpos'], ['2', '0/3800A0']), commandComplete());
      else s.push(copyDone, commandComplete());
      s.end();
    };
    const run = receiver.run();
    await settle();
    expect(conn.sql).toEqual(['START_REPLICATION 0/300000 TIMELINE 1', 'TIMELINE_HISTORY 2', 'START_REPLICATION 0/300000 TIMELINE 2']);
    expect(writer.files.get('00000002.history')?.toString()).toBe(history2);
    expect(writer.done).toEqual(['00000002.history']);
    last(conn).push(xlogData(3n * S, walBytes(3n * S, switchAt + 0x100n)));
    receiver.stop(switchAt + 0x100n);
    await run;
    expect(writer.opened).toEqual(['000000010000000000000003', '000000020000000000000003']);
    expect(writer.done).toEqual(['00000002.history']); // neither segment is complete
  });

  it('follows a switch announced without COPY (start point = switch point)', async () => {
    const { conn, writer, receiver } = setup({ startLsn: 4n * S });
    conn.onQuery = (s) => {
      if (serveHistory(s)) return;
      if (s.sql.includes('TIMELINE 1')) {
        s.push(...resultSet(['next_tli', 'next_tli_startpos'], ['2', '0/400000']), commandComplete());
        s.end();
      } else {
        s.push(copyBoth);
      }
    };
    const run = receiver.run();
    await settle();
    expect(conn.sql).toEqual(['START_REPLICATION 0/400000 TIMELINE 1', 'TIMELINE_HISTORY 2', 'START_REPLICATION 0/400000 TIMELINE 2']);
    expect(conn.copyDoneSent).toBe(0);
    last(conn).push(xlogData(4n * S, walBytes(4n * S, 4n * S + 10n)));
    receiver.stop(4n * S + 10n);
    await run;
    expect(writer.opened).toEqual(['000000020000000000000004']);
  });

  it('fetches the history of the start timeline first when it is above 1', async () => {
    const { conn, writer, receiver } = setup({ timeline: 2 });
    conn.onQuery = (s) => {
      if (!serveHistory(s)) s.push(copyBoth);
    };
    const run = receiver.run();
    await settle();
    expect(conn.sql).toEqual(['TIMELINE_HISTORY 2', 'START_REPLICATION 0/300000 TIMELINE 2']);
    expect(writer.done).toEqual(['00000002.history']);
    receiver.stop(3n * S);
    await run;
  });

  it('refuses a history file named for another timeline', async () => {
    const { conn, receiver } = setup({ timeline: 3 });
    conn.onQuery = (s) => {
      s.push(...resultSet(['filename', 'content'], ['00000002.history', history2], 'TIMELINE_HISTORY'));
      s.end();
    };
    expect((await rejection(receiver.run())).message).toBe('server reported unexpected history file name for timeline 3: 00000002.history');
  });
});
