/**
 * The tar terminator, after astreamer_tar_terminator (src/fe_utils/astreamer_tar.c): passes bytes
 * through and adds the two zero blocks that servers before 15 leave off their archives.
 */
import { TAR_BLOCK_SIZE } from './tar-header.js';
import { abortQuietly, type ByteSink } from './streamer.js';

export class TarTerminator implements ByteSink {
  constructor(private readonly next: ByteSink) {}

  write(buf: Buffer): void | Promise<void> {
    return this.next.write(buf);
  }

  async finish(): Promise<void> {
    await this.next.write(Buffer.alloc(2 * TAR_BLOCK_SIZE));
    await this.next.finish();
  }

  abort(err?: unknown): Promise<void> {
    return abortQuietly(this.next, err);
  }
}
