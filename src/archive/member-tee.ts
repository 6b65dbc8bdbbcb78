/**
 * Hands every member chunk to a tap first, then to the rest of the chain: a second consumer of the
 * members as the tar parser produced them (pg_basebackup --verify computes checksums there without a
 * second parse).  The tap sees each chunk before the chain goes on, so nothing later in the chain can
 * have changed it; both are waited for.
 */
import type { ArchiveChunk, MemberSink } from './streamer.js';

export class MemberTee implements MemberSink {
  readonly inPlace: boolean;

  constructor(
    private readonly tap: MemberSink,
    private readonly next: MemberSink,
  ) {
    this.inPlace = tap.inPlace === true && next.inPlace === true;
  }

  content(chunk: ArchiveChunk): void | Promise<void> {
    const a = this.tap.content(chunk);
    const b = this.next.content(chunk);
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Promise.all([a, b]).then(() => undefined);
  }

  async finish(): Promise<void> {
    await this.tap.finish();
    await this.next.finish();
  }

  async abort(err?: unknown): Promise<void> {
    await Promise.allSettled([this.tap.abort(err), this.next.abort(err)]);
  }
}
