/**
 * -X stream: the WAL receiver beside the archive stream (pg's StartLogStreamer / LogStreamerMain), as
 * a concurrent task on a second replication connection in this process.
 *
 * If the receiver fails, `onFailure` callbacks run at once (the backup tears down its own connection),
 * and the backup fails with pg's "background process terminated unexpectedly" after the receiver's own
 * message.  Beyond pg: a permanent slot this run created with -C is dropped again when the backup fails.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileError, PgBasebackupError, strerror } from '../errors.js';
import type { Lsn, TimeLineId } from '../lsn.js';
import type { BackupOptions } from '../options/backup-options.js';
import { createReplicationSlot, dropReplicationSlot, identifySystem } from '../protocol/commands.js';
import type { PgConnection } from '../protocol/connection.js';
import { DirWalWriter } from '../wal/dir-writer.js';
import { WalReceiver } from '../wal/receiver.js';
import { TarWalWriter } from '../wal/tar-writer.js';
import type { WalWriter } from '../wal/wal-writer.js';
import type { BackupEnvironment } from './base-backup.js';

export interface WalStreamParams {
  options: BackupOptions;
  env: BackupEnvironment;
  startLsn: Lsn;
  timeline: TimeLineId;
  systemId: string;
  walSegSize: number;
  serverVersionNum: number;
  /** Where WAL goes: `<basedir>/pg_wal` (plain) or `<basedir>/pg_wal.tar` (tar). */
  basedir: string;
  fileMode: number;
  dirMode: number;
}

export interface WalStreamHandle {
  /** Name of the slot streaming uses (temporary, -S, or none). */
  slotName: string | undefined;
  /** Called once if the receiver fails before finish(). */
  onFailure(cb: (err: unknown) => void): void;
  /** The receiver's error, if it failed. */
  readonly error: unknown;
  /** Give the backup's end position; resolves when all WAL up to it is written. */
  finish(endLsn: Lsn): Promise<void>;
  /** Stop at once (backup failed); drops a -C slot created by this run. */
  abort(): Promise<void>;
}

export async function startWalStreaming(p: WalStreamParams): Promise<WalStreamHandle> {
  const o = p.options;
  const log = p.env.logger;
  const conn: PgConnection = await p.env.connect();
  let writer: WalWriter | undefined;
  let createdPermanentSlot: string | undefined;
  try {
    const sys = await identifySystem(conn);
    if (sys.systemId !== p.systemId) {
      throw new PgBasebackupError('PGBB_WAL_RECEIVER', 'system identifier does not match between base backup and streaming connection');
    }
    if (p.timeline > sys.timeline) {
      throw new PgBasebackupError('PGBB_WAL_RECEIVER', `starting timeline ${p.timeline} is not present in the server`);
    }

    let slotName = o.slot;
    const temporary = !o.noSlot && o.slot === undefined;
    if (temporary) slotName = `pg_basebackup_${conn.backendPid}`;
    if (temporary || o.createSlot) {
      await createReplicationSlot(conn, { name: slotName!, temporary, reserveWal: true });
      if (!temporary) createdPermanentSlot = slotName;
      if (o.verbose > 0) log.info(temporary ? `created temporary replication slot "${slotName}"` : `created replication slot "${slotName}"`);
    }

    if (o.format === 'plain') {
      const walDir = join(p.basedir, 'pg_wal');
      const dirs = [join(walDir, 'archive_status')];
      if (p.serverVersionNum >= 170000) dirs.push(join(walDir, 'summaries'));
      for (const d of dirs) {
        try {
          mkdirSync(d, { recursive: true, mode: p.dirMode });
        } catch (e) {
          throw new FileError(`could not create directory "${d}": ${strerror(e)}`, d, { cause: e });
        }
      }
      writer = new DirWalWriter(walDir, p.walSegSize, p.fileMode);
    } else {
      writer = await TarWalWriter.create(join(p.basedir, 'pg_wal.tar'), p.walSegSize, p.fileMode);
    }

    const receiver = new WalReceiver({
      conn,
      writer,
      startLsn: p.startLsn - (p.startLsn % BigInt(p.walSegSize)),
      timeline: p.timeline,
      walSegSize: p.walSegSize,
      slot: slotName,
      reportFlushPosition: slotName !== undefined,
      statusInterval: o.statusInterval,
      fetchHistory: true,
    });

    let failure: unknown;
    let finishing = false;
    const failureCallbacks: ((e: unknown) => void)[] = [];
    const run = receiver.run().then(
      () => {
        if (!finishing) throw new PgBasebackupError('PGBB_WAL_RECEIVER', 'replication stream was terminated before stop point');
      },
    );
    const watched = run.catch((e: unknown) => {
      failure = e;
      if (!finishing) for (const cb of failureCallbacks) cb(e);
      throw e;
    });
    watched.catch(() => undefined); // observed via finish()/error

    const w = writer;
    const dropCreatedSlot = async () => {
      if (createdPermanentSlot === undefined) return;
      const name = createdPermanentSlot;
      createdPermanentSlot = undefined;
      try {
        const c = await p.env.connect();
        try {
          await dropReplicationSlot(c, name);
          log.info(`dropped replication slot "${name}"`);
        } finally {
          await c.close();
        }
      } catch (e) {
        log.error(`could not drop replication slot "${name}": ${(e as Error).message}`);
      }
    };

    return {
      slotName,
      get error() {
        return failure;
      },
      onFailure(cb) {
        failureCallbacks.push(cb);
      },
      async finish(endLsn: Lsn) {
        finishing = true;
        receiver.stop(endLsn);
        await watched;
        await w.finish();
        await conn.close();
      },
      async abort() {
        finishing = true;
        conn.destroy();
        await watched.catch(() => undefined);
        await w.abort();
        await dropCreatedSlot();
      },
    };
  } catch (e) {
    conn.destroy();
    await writer?.abort();
    if (createdPermanentSlot !== undefined) {
      try {
        const c = await p.env.connect();
        await dropReplicationSlot(c, createdPermanentSlot).finally(() => c.close());
      } catch {
        /* reported below */
      }
    }
    throw e;
  }
}
