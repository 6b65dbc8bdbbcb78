/**
 * WAL into `pg_wal.tar` (tar format), as pg's tar WAL method lays it out: one member per segment,
 * pre-padded to wal_segment_size, `archive_status/<seg>.done` members, history files, and the two
 * zero blocks at the end.  Because every segment member has its full size from the start, the header
 * is final when written and data go to fixed positions; the file only grows at its end.  Members
 * belong to uid/gid 0, as pg's tar WAL method writes them.
 */
import type { FileHandle } from 'node:fs/promises';
import { createNewFileHandle } from '../fs/create-file.js';
import { FileError, strerror } from '../errors.js';
import { encodeTarHeader, TAR_BLOCK_SIZE, tarPaddingBytes } from '../archive/tar-header.js';
import type { TarMember } from '../archive/streamer.js';
import type { WalSegmentFile, WalWriter } from './wal-writer.js';

export class TarWalWriter implements WalWriter {
  private end = 0;
  private segmentOpen = false;
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly fh: FileHandle,
    private readonly walSegSize: number,
    private readonly fileMode: number,
  ) {}

  static async create(path: string, walSegSize: number, fileMode: number): Promise<TarWalWriter> {
    try {
      // A new file: nothing already at the path is written through.
      return new TarWalWriter(path, await createNewFileHandle(path, fileMode), walSegSize, fileMode);
    } catch (e) {
      throw new FileError(`could not create file "${path}": ${strerror(e)}`, path, { cause: e });
    }
  }

  private member(name: string, size: number): TarMember {
    return { name, size, mode: this.fileMode, uid: 0, gid: 0, mtime: Math.floor(Date.now() / 1000), type: 'file', linkTarget: '' };
  }

  private async writeAt(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    try {
      while (done < buf.length) {
        const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, position + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new FileError(`could not write to file "${this.path}": ${strerror(e)}`, this.path, { cause: e });
    }
  }

  async openSegment(name: string): Promise<WalSegmentFile> {
    if (this.segmentOpen) throw new FileError(`could not open "${name}" in "${this.path}": another segment is open`, this.path);
    this.segmentOpen = true;
    const headerPos = this.end;
    await this.writeAt(encodeTarHeader(this.member(name, this.walSegSize)), headerPos);
    const dataStart = headerPos + TAR_BLOCK_SIZE;
    const segEnd = dataStart + this.walSegSize; // a multiple of 512: no padding
    try {
      await this.fh.truncate(segEnd); // zero-filled: the pre-padded segment
    } catch (e) {
      throw new FileError(`could not pad file "${this.path}": ${strerror(e)}`, this.path, { cause: e });
    }
    this.end = segEnd;
    return {
      write: (offset, data) => this.writeAt(data, dataStart + offset),
      close: async () => {
        this.segmentOpen = false;
      },
    };
  }

  async writeFile(name: string, contents: Buffer): Promise<void> {
    const pad = tarPaddingBytes(contents.length);
    const block = Buffer.concat([encodeTarHeader(this.member(name, contents.length)), contents, Buffer.alloc(pad)]);
    await this.writeAt(block, this.end);
    this.end += block.length;
  }

  async markDone(name: string): Promise<void> {
    await this.writeFile(`archive_status/${name}.done`, Buffer.alloc(0));
  }

  async finish(): Promise<void> {
    if (this.closed) return;
    await this.writeAt(Buffer.alloc(2 * TAR_BLOCK_SIZE), this.end);
    this.end += 2 * TAR_BLOCK_SIZE;
    this.closed = true;
    await this.fh.close();
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}
