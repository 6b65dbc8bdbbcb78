/**
 * `pg_wal.tar.gz`: with client-side gzip and -X stream in tar format, pg writes the streamed WAL as a
 * gzip-compressed tar (walmethods.c; lz4 and zstd leave pg_wal.tar uncompressed, as documented for
 * -Z).  The WAL tar writer patches member headers in place while streaming, so this client writes
 * pg_wal.tar first and, once streaming has ended, compresses it into pg_wal.tar.gz and removes it.
 * The result is the file pg produces; the cost is the uncompressed size on disk meanwhile.
 */
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { FileError, strerror } from '../errors.js';
import { streamPromises, zlibModule } from '../lazy-builtins.js';

/**
 * Compress `path` into `path + ".gz"` (same mode) with gzip at `level` (undefined: zlib's default),
 * then remove `path`.  On failure the partial .gz is removed and `path` kept.
 */
export async function gzipFileInPlace(path: string, level: number | undefined): Promise<string> {
  const target = `${path}.gz`;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch (e) {
    throw new FileError(`could not stat file "${path}": ${strerror(e)}`, path, { cause: e });
  }
  const zlib = zlibModule();
  try {
    await streamPromises().pipeline(
      createReadStream(path, { highWaterMark: 1024 * 1024 }),
      zlib.createGzip({ level: level ?? zlib.constants.Z_DEFAULT_COMPRESSION, chunkSize: 256 * 1024 }),
      // 'wx': a new file (O_EXCL): never written through a symlink or other object at that name.
      createWriteStream(target, { mode, flags: 'wx', highWaterMark: 1024 * 1024 }),
    );
  } catch (e) {
    rmSync(target, { force: true });
    const err = e as NodeJS.ErrnoException;
    const p = err.path ?? target;
    throw new FileError(`could not write to compressed file "${p}": ${strerror(e)}`, p, { cause: e });
  }
  try {
    rmSync(path);
  } catch (e) {
    throw new FileError(`could not remove file "${path}": ${strerror(e)}`, path, { cause: e });
  }
  return target;
}
