/**
 * WAL into a directory, as pg_basebackup's directory method does it: each segment under its final name
 * (no .partial), pre-padded with zeros to wal_segment_size; an existing file of size 0 or
 * wal_segment_size is reused; any other size is an error.  Not fsynced while streaming: the whole
 * backup is synced at the end.
 *
 * Nothing already at a segment's path is followed: a new segment is created with O_EXCL|O_NOFOLLOW,
 * and an existing one is reused only if it is a regular file with a single link (src/fs/create-file.ts).
 */
import { mkdirSync } from 'node:fs';
import { lstat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FileError, strerror } from '../errors.js';
import { createNewFileHandle, openExistingFileHandle, writeNewFile } from '../fs/create-file.js';
import type { WalSegmentFile, WalWriter } from './wal-writer.js';

export class DirWalWriter implements WalWriter {
  private readonly open = new Set<FileHandle>();

  constructor(
    private readonly dir: string,
    private readonly walSegSize: number,
    private readonly fileMode: number,
  ) {}

  async openSegment(name: string): Promise<WalSegmentFile> {
    const path = join(this.dir, name);
    let size = -1;
    try {
      const st = await lstat(path);
      size = st.isFile() ? st.size : 0; // not a file: refused by openExistingFileHandle() below
    } catch {
      /* new file */
    }
    if (size !== -1 && size !== 0 && size !== this.walSegSize) {
      throw new FileError(`write-ahead log file "${name}" has ${size} bytes, should be 0 or ${this.walSegSize}`, path);
    }
    let fh: FileHandle;
    try {
      fh = size === -1 ? await createNewFileHandle(path, this.fileMode) : await openExistingFileHandle(path);
    } catch (e) {
      throw new FileError(`could not open write-ahead log file "${path}": ${strerror(e)}`, path, { cause: e });
    }
    this.open.add(fh);
    if (size !== this.walSegSize) {
      try {
        await fh.truncate(this.walSegSize); // zero-filled, as pg pre-pads
      } catch (e) {
        throw new FileError(`could not pad file "${path}": ${strerror(e)}`, path, { cause: e });
      }
    }
    const writer = this.open;
    return {
      async write(offset: number, data: Buffer): Promise<void> {
        let done = 0;
        try {
          while (done < data.length) {
            const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
            done += bytesWritten;
          }
        } catch (e) {
          throw new FileError(`could not write ${data.length} bytes to WAL file "${path}": ${strerror(e)}`, path, { cause: e });
        }
      },
      async close(): Promise<void> {
        writer.delete(fh);
        try {
          await fh.close();
        } catch (e) {
          throw new FileError(`could not close file "${path}": ${strerror(e)}`, path, { cause: e });
        }
      },
    };
  }

  async writeFile(name: string, contents: Buffer): Promise<void> {
    const path = join(this.dir, name);
    try {
      writeNewFile(path, contents, this.fileMode);
    } catch (e) {
      throw new FileError(`could not write file "${path}": ${strerror(e)}`, path, { cause: e });
    }
  }

  async markDone(name: string): Promise<void> {
    const statusDir = join(this.dir, 'archive_status');
    const path = join(statusDir, `${name}.done`);
    try {
      mkdirSync(statusDir, { recursive: true });
      writeNewFile(path, '', this.fileMode);
    } catch (e) {
      throw new FileError(`could not create archive status file "${path}": ${strerror(e)}`, path, { cause: e });
    }
  }

  async finish(): Promise<void> {
    await this.abort();
  }

  async abort(): Promise<void> {
    const handles = [...this.open];
    this.open.clear();
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  }
}
