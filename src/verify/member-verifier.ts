/**
 * The checks on each member of a tar-format archive (astreamer_verify.c): regular members only, the
 * path made relative ("./" or "pg_tblspc/<oid>/" in front, canonicalized), ignored paths skipped, then
 * presence in the manifest, size, checksum computed while the data streams by, and pg_control.
 */
import type { ArchiveChunk, MemberSink } from '../archive/streamer.js';
import { createChecksummer, type Checksummer } from '../manifest/checksum.js';
import { canonicalizePath } from '../options/canonicalize-path.js';
import { XLOG_CONTROL_FILE } from '../pgdata/control-file.js';
import type { VerifierContext } from './context.js';
import { verifyControlData } from './control-file-check.js';
import { shouldIgnoreRelpath } from './ignore-list.js';
import { shouldVerifyChecksum, type ManifestEntry } from './manifest-files.js';
import { compareChecksum } from './plain.js';

/** sizeof(ControlFileData) of 18, the most a control file check reads. */
const CONTROL_DATA_BYTES = 296;

export class MemberVerifier implements MemberSink {
  /** In place (streamer.ts): what it keeps of a chunk (PG_VERSION, the head of pg_control) it copies. */
  readonly inPlace = true;
  private m: ManifestEntry | undefined;
  private checksum: Checksummer | undefined;
  private checksumBytes = 0;
  private control: Buffer[] | undefined;
  private controlKept = 0;
  private controlBytes = 0;
  /** The data of PG_VERSION (it tells the WAL format), collected when it streams by. */
  private pgVersion: Buffer[] | undefined;

  constructor(
    private readonly ctx: VerifierContext,
    private readonly archiveName: string,
    private readonly tablespaceOid: number | undefined,
  ) {}

  content(chunk: ArchiveChunk): void {
    switch (chunk.kind) {
      case 'header':
        this.header(chunk.member.type === 'file', chunk.member.name, chunk.member.size);
        break;
      case 'data':
        if (this.pgVersion) this.pgVersion.push(Buffer.from(chunk.buf.subarray(0, 64)));
        if (this.checksum) {
          this.checksumBytes += chunk.buf.length;
          this.checksum.update(chunk.buf);
        }
        if (this.control) {
          if (this.controlKept < CONTROL_DATA_BYTES) {
            const piece = Buffer.from(chunk.buf.subarray(0, CONTROL_DATA_BYTES - this.controlKept));
            this.control.push(piece);
            this.controlKept += piece.length;
          }
          this.controlBytes += chunk.buf.length;
        }
        break;
      case 'trailer':
        if (this.checksum) this.verifyChecksum();
        if (this.control) this.verifyControl();
        if (this.pgVersion) this.ctx.pgVersion = Buffer.concat(this.pgVersion).toString('latin1');
        this.reset();
        break;
      default:
        break;
    }
  }

  async finish(): Promise<void> {}

  async abort(): Promise<void> {}

  private reset(): void {
    this.m = undefined;
    this.checksum = undefined;
    this.checksumBytes = 0;
    this.control = undefined;
    this.controlKept = 0;
    this.controlBytes = 0;
    this.pgVersion = undefined;
  }

  private header(regular: boolean, name: string, size: number): void {
    if (!regular) return;
    const ctx = this.ctx;
    const pathname = canonicalizePath(
      this.tablespaceOid !== undefined ? `pg_tblspc/${this.tablespaceOid}/${name}` : `./${name}`,
    );
    if (pathname === 'PG_VERSION' && this.tablespaceOid === undefined) this.pgVersion = [];
    if (shouldIgnoreRelpath(ctx.ignore, pathname)) return;
    const m = ctx.manifest.byPath.get(pathname);
    if (m === undefined) {
      ctx.reporter.backupError(`file "${name}" is present in archive "${this.archiveName}" but not in the manifest`);
      return;
    }
    this.m = m;
    m.matched = true;
    if (m.file.size !== size) {
      ctx.reporter.backupError(
        `file "${name}" has size ${size} in archive "${this.archiveName}" but size ${m.file.size} in the manifest`,
      );
      m.bad = true;
      return;
    }
    if (!ctx.options.skipChecksums && shouldVerifyChecksum(m)) this.checksum = createChecksummer(m.file.checksumAlgorithm);
    if (ctx.manifest.manifest.version !== 1 && m.file.path === XLOG_CONTROL_FILE) this.control = [];
  }

  private verifyChecksum(): void {
    const m = this.m as ManifestEntry;
    const archive = this.archiveName;
    if (this.checksumBytes !== m.file.size) {
      this.ctx.reporter.backupError(
        `file "${m.file.path}" in archive "${archive}" should contain ${m.file.size} bytes, but ${this.checksumBytes} bytes were read`,
      );
      return;
    }
    compareChecksum(
      this.ctx,
      m,
      (this.checksum as Checksummer).digest(),
      (manifestLen, computedLen) =>
        `file "${m.file.path}" in archive "${archive}" has checksum of length ${manifestLen}, but expected ${computedLen}`,
      `checksum mismatch for file "${m.file.path}" in archive "${archive}"`,
    );
  }

  private verifyControl(): void {
    const m = this.m as ManifestEntry;
    const head = Buffer.alloc(CONTROL_DATA_BYTES);
    Buffer.concat(this.control as Buffer[]).copy(head);
    const sysid = this.ctx.manifest.manifest.systemIdentifier ?? 0n;
    verifyControlData(this.archiveName, m.file.path, head, this.controlBytes, sysid, this.ctx.reporter);
  }
}
