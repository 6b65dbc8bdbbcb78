/**
 * -X stream: the WAL receiver beside the archive stream (pg's StartLogStreamer / LogStreamerMain), as
 * a concurrent task on a second replication connection in this process.
 *
 * As in pg: the slot is created first (temporary `pg_basebackup_<pid of this connection>` unless -S or
 * --no-slot; -C creates the permanent -S slot), plain format gets pg_wal/archive_status (17+: and
 * pg_wal/summaries), then the receiver checks the system identifier and timeline (IDENTIFY_SYSTEM)
 * and streams from the start of the start segment.
 *
 * If the receiver fails, `onFailure` callbacks run at once (the backup tears down its own connection
 * and reports pg's "background process terminated unexpectedly" after the receiver's own message).
 *
 * Beyond pg:
 * - a permanent slot this run created with -C is dropped again when the backup fails (retrying
 *   within 30 s while the server cannot be reached, e.g. restarting after an immediate stop);
 * - with `-Ft -D -` the WAL goes into a private spool directory (wal-spool.ts) whose files are then
 *   appended to the archive on standard output.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectionError, FileError, PgBasebackupError, ServerError, strerror } from '../errors.js';
import { segmentStart, type Lsn, type TimeLineId } from '../lsn.js';
import type { BackupOptions } from '../options/backup-options.js';
import { createReplicationSlot, identifySystem, quoteIdent } from '../protocol/commands.js';
import type { PgConnection } from '../protocol/connection.js';
import { DirWalWriter } from '../wal/dir-writer.js';
import { WalReceiver } from '../wal/receiver.js';
import { TarWalWriter } from '../wal/tar-writer.js';
import type { WalWriter } from '../wal/wal-writer.js';
import type { BackupEnvironment } from './base-backup.js';
import { WalSpool } from './wal-spool.js';

export interface WalStreamParams {
  options: BackupOptions;
  env: BackupEnvironment;
  startLsn: Lsn;
  timeline: TimeLineId;
  systemId: string;
  walSegSize: number;
  serverVersionNum: number;
  /** Where WAL goes: `<basedir>/pg_wal` (plain) or `<basedir>/pg_wal.tar` (tar); ignored for stdout. */
  basedir: string;
  /** `-Ft -D -`: spool the WAL for the archive on standard output. */
  toStdout?: boolean;
  fileMode: number;
  dirMode: number;
  /** --verify: wraps the writer so that every WAL write is also checked (src/backup/live-verify/). */
  tapWriter?: ((w: WalWriter) => WalWriter) | undefined;
}

export interface WalStreamHandle {
  /** Name of the slot streaming uses (temporary, -S, or none). */
  slotName: string | undefined;
  /** `-Ft -D -`: the spooled WAL, to append to the archive after finish(). */
  spool: WalSpool | undefined;
  /** Called once if the receiver fails before finish() (at once if it already has). */
  onFailure(cb: (err: unknown) => void): void;
  /** The receiver's error, if it failed. */
  readonly error: unknown;
  /** Give the backup's end position; resolves when all WAL up to it is written.  Idempotent. */
  finish(endLsn: Lsn): Promise<void>;
  /** The backup failed: stop at once if still streaming, drop a -C slot created by this run, remove the spool. */
  abort(): Promise<void>;
}

/** How long dropping a -C slot after a failure may wait for the slot to become inactive. */
const DROP_SLOT_TIMEOUT_MS = 30_000;

export async function startWalStreaming(p: WalStreamParams): Promise<WalStreamHandle> {
  const o = p.options;
  const log = p.env.logger;
  const conn: PgConnection = await p.env.connect();
  let writer: WalWriter | undefined;
  let spool: WalSpool | undefined;
  let createdPermanentSlot: string | undefined;
  const dropCreatedSlot = async (): Promise<void> => {
    const name = createdPermanentSlot;
    createdPermanentSlot = undefined;
    if (name !== undefined) await dropSlotAfterFailure(p.env, name);
  };
  try {
    let slotName = o.slot;
    const temporary = !o.noSlot && o.slot === undefined;
    if (temporary) slotName = `pg_basebackup_${conn.backendPid}`;
    if (slotName !== undefined && (temporary || o.createSlot)) {
      await createReplicationSlot(conn, { name: slotName, temporary, reserveWal: true });
      if (!temporary) createdPermanentSlot = slotName;
      if (o.verbose > 0) log.info(temporary ? `created temporary replication slot "${slotName}"` : `created replication slot "${slotName}"`);
    }

    if (p.toStdout) {
      spool = WalSpool.create(p.walSegSize, p.fileMode);
      writer = spool.writer;
    } else if (o.format === 'plain') {
      const walDir = join(p.basedir, 'pg_wal');
      const dirs = [join(walDir, 'archive_status')];
      if (p.serverVersionNum >= 170000) dirs.push(join(walDir, 'summaries'));
      for (const d of dirs) makeDirectory(d, p.dirMode);
      writer = new DirWalWriter(walDir, p.walSegSize, p.fileMode);
    } else {
      writer = await TarWalWriter.create(join(p.basedir, 'pg_wal.tar'), p.walSegSize, p.fileMode);
    }

    if (p.tapWriter) writer = p.tapWriter(writer);
    const receiver = new WalReceiver({
      conn,
      writer,
      startLsn: segmentStart(p.startLsn, p.walSegSize),
      timeline: p.timeline,
      walSegSize: p.walSegSize,
      slot: slotName,
      reportFlushPosition: slotName !== undefined,
      statusInterval: o.statusInterval,
      fetchHistory: true,
    });

    let failure: unknown;
    let failed = false;
    let finishing = false;
    let aborting = false;
    const failureCallbacks: ((e: unknown) => void)[] = [];
    const run = (async () => {
      // ReceiveXlogStream's checks, in the "background process" as in pg.
      const sys = await identifySystem(conn);
      if (sys.systemId !== p.systemId) {
        throw new PgBasebackupError('PGBB_WAL_RECEIVER', 'system identifier does not match between base backup and streaming connection');
      }
      if (p.timeline > sys.timeline) {
        throw new PgBasebackupError('PGBB_WAL_RECEIVER', `starting timeline ${p.timeline} is not present in the server`);
      }
      await receiver.run();
      if (!finishing) throw new PgBasebackupError('PGBB_WAL_RECEIVER', 'replication stream was terminated before stop point');
    })();
    const watched = run.catch((e: unknown) => {
      failure = e;
      failed = true;
      if (!finishing) for (const cb of failureCallbacks) cb(e);
      // While we wait for the last WAL nobody else reports why the receiver stopped (pg's child does).
      else if (!aborting) log.error(e instanceof Error ? e.message : String(e));
      throw e;
    });
    watched.catch(() => undefined); // observed through finish() and error

    const w = writer;
    const s = spool;
    let finished: Promise<void> | undefined;
    return {
      slotName,
      spool: s,
      get error() {
        return failure;
      },
      onFailure(cb) {
        if (failed && !finishing) cb(failure);
        else failureCallbacks.push(cb);
      },
      finish(endLsn: Lsn) {
        finished ??= (async () => {
          finishing = true;
          receiver.stop(endLsn);
          await watched;
          await w.finish();
          await conn.close();
        })();
        return finished;
      },
      async abort() {
        finishing = true;
        aborting = true;
        conn.destroy(); // a no-op after a successful finish()
        await (finished ?? watched).catch(() => undefined);
        await w.abort();
        s?.remove();
        await dropCreatedSlot();
      },
    };
  } catch (e) {
    conn.destroy();
    await writer?.abort();
    spool?.remove();
    await dropCreatedSlot();
    throw e;
  }
}

function makeDirectory(d: string, mode: number): void {
  try {
    mkdirSync(d, { recursive: true, mode });
  } catch (e) {
    throw new FileError(`could not create directory "${d}": ${strerror(e)}`, d, { cause: e });
  }
}

/** First pause between attempts to drop a -C slot; doubled after each failed attempt, at most DROP_SLOT_MAX_PAUSE_MS. */
const DROP_SLOT_FIRST_PAUSE_MS = 250;
const DROP_SLOT_MAX_PAUSE_MS = 4_000;

/** The connection broke or could not be made (the server restarting): worth another attempt. */
function isRetryable(e: unknown): boolean {
  if (e instanceof ConnectionError) return true;
  if (e instanceof ServerError) return e.sqlState === '57P01' || e.sqlState === '57P02' || e.sqlState === '57P03';
  return e instanceof PgBasebackupError && e.code === 'PGBB_PROTOCOL';
}

/** `p`, or a ConnectionError once `ms` have passed (`onTimeout` tears down what `p` waits on). */
function within<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new ConnectionError('timed out waiting for the slot to become inactive'));
    }, Math.max(ms, 0));
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Beyond pg: drop the permanent slot this run created, on a new connection.  WAIT lets the walsender
 * of our (just destroyed) streaming connection release it.  A connection that cannot be made or
 * breaks (the server restarting after an immediate stop) is tried again, backing off, within
 * DROP_SLOT_TIMEOUT_MS in all.  Failures are logged, not thrown: the backup's own error is the one to
 * report.
 */
async function dropSlotAfterFailure(env: BackupEnvironment, name: string): Promise<void> {
  const log = env.logger;
  const deadline = Date.now() + DROP_SLOT_TIMEOUT_MS;
  let pause = DROP_SLOT_FIRST_PAUSE_MS;
  for (;;) {
    let c: PgConnection | undefined;
    try {
      const connecting = env.connect();
      connecting.then((x) => (c = x), () => undefined);
      c = await within(connecting, deadline - Date.now(), () => void connecting.then((x) => x.destroy(), () => undefined));
      await within(c.simpleQuery(`DROP_REPLICATION_SLOT ${quoteIdent(name)} WAIT`), deadline - Date.now(), () => c?.destroy());
      log.info(`dropped replication slot "${name}"`);
      return;
    } catch (e) {
      const left = deadline - Date.now();
      if (!isRetryable(e) || left <= 0) {
        log.warning(`could not drop replication slot "${name}": ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(pause, left)));
      pause = Math.min(pause * 2, DROP_SLOT_MAX_PAUSE_MS);
    } finally {
      await c?.close().catch(() => undefined);
    }
  }
}
