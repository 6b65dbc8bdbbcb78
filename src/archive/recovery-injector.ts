/**
 * The recovery injector for -R, after astreamer_recovery_injector
 * (src/bin/pg_basebackup/astreamer_inject.c), for servers 12+ (recovery settings are GUCs):
 *
 * - the recovery text is appended to `postgresql.auto.conf`: its member grows, so its header is
 *   handed on empty (to be regenerated) and the text is sent as extra data before its trailer;
 * - any `standby.signal` member is dropped;
 * - beyond pg, a `postgresql.auto.conf` or `standby.signal` member that is not a regular file (a
 *   symlink pointing elsewhere) is a protocol error;
 * - at the archive trailer, `postgresql.auto.conf` is added with the text if the archive had none,
 *   then an empty `standby.signal` is added.
 *
 * Only the base archive goes through this stage.  Servers before 12 (recovery.conf) are out of
 * this project's range.
 */
import { PgBasebackupError, ProtocolError } from '../errors.js';
import {
  abortQuietly,
  deliverChunks,
  injectedMember,
  injectFile,
  type ArchiveChunk,
  type MemberSink,
  type TarMember,
} from './streamer.js';

const AUTO_CONF = 'postgresql.auto.conf';
const STANDBY_SIGNAL = 'standby.signal';

export interface RecoveryInjectorOptions {
  /** The text to append (GenerateRecoveryConfig's output). */
  recoveryConf: string | Buffer;
  /** Permission bits of injected files: pg_file_create_mode (see file-perm.ts). */
  fileMode: number;
  /** Seconds since the epoch, for injected members (default: now). */
  now?: () => number;
}

export class RecoveryInjector implements MemberSink {
  private readonly text: Buffer;
  private readonly fileMode: number;
  private readonly now: () => number;
  private skipFile = false;
  private isAutoConf = false;
  private foundAutoConf = false;
  /** The current member as forwarded (a copy, with a new size for postgresql.auto.conf). */
  private member: TarMember | undefined;

  /** Keeps nothing: in place when `next` is (its promise at the archive trailer comes after the data). */
  readonly inPlace: boolean;

  constructor(
    private readonly next: MemberSink,
    options: RecoveryInjectorOptions,
  ) {
    this.inPlace = next.inPlace === true;
    this.text = typeof options.recoveryConf === 'string' ? Buffer.from(options.recoveryConf, 'utf8') : options.recoveryConf;
    this.fileMode = options.fileMode;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  content(chunk: ArchiveChunk): void | Promise<void> {
    switch (chunk.kind) {
      case 'header': {
        const name = chunk.member.name;
        const bare = name.replace(/\/+$/, ''); // symlinks and directories carry a trailing slash
        if ((bare === STANDBY_SIGNAL || bare === AUTO_CONF) && chunk.member.type !== 'file') {
          // Beyond pg: -R writes these files itself; a symlink (or anything but a file) there is refused.
          throw new ProtocolError(`tar member "${bare}" is not a regular file`, { detail: 'The -R option writes this file itself.' });
        }
        this.skipFile = name === STANDBY_SIGNAL;
        this.isAutoConf = name === AUTO_CONF;
        if (this.skipFile) return undefined;
        if (this.isAutoConf) {
          this.foundAutoConf = true;
          this.member = { ...chunk.member, size: chunk.member.size + this.text.length };
          // The original header no longer matches: a later stage must regenerate it.
          return this.next.content({ kind: 'header', member: this.member, buf: Buffer.alloc(0) });
        }
        this.member = chunk.member;
        return this.next.content(chunk);
      }
      case 'data':
        if (this.skipFile) return undefined;
        return this.next.content({ kind: 'data', member: this.member as TarMember, buf: chunk.buf });
      case 'trailer': {
        if (this.skipFile) return undefined;
        const member = this.member as TarMember;
        const trailer: ArchiveChunk = { kind: 'trailer', member, buf: chunk.buf };
        if (!this.isAutoConf) return this.next.content(trailer);
        // In place, the trailer's padding is copied should the text make us wait (deliverChunks).
        return deliverChunks(this.next, [{ kind: 'data', member, buf: this.text }, trailer], 0, this.inPlace);
      }
      case 'archive-trailer':
        return this.endArchive(chunk);
      default:
        throw new PgBasebackupError('PGBB_INTERNAL', 'unexpected state while injecting recovery settings');
    }
  }

  private async endArchive(chunk: ArchiveChunk): Promise<void> {
    const mtime = this.now();
    if (!this.foundAutoConf) {
      await injectFile(this.next, injectedMember(AUTO_CONF, this.text.length, this.fileMode, mtime), this.text);
    }
    await injectFile(this.next, injectedMember(STANDBY_SIGNAL, 0, this.fileMode, mtime), Buffer.alloc(0));
    await this.next.content(chunk);
  }

  finish(): Promise<void> {
    return this.next.finish();
  }

  abort(err?: unknown): Promise<void> {
    return abortQuietly(this.next, err);
  }
}
