/**
 * Where received WAL goes (after walmethods.h's WalWriteMethod): segment files opened by name,
 * written at offsets, closed, and marked done in archive_status.  Two implementations: a directory
 * (plain format, pg_wal/ or --waldir) and pg_wal.tar (tar format).
 */
export interface WalSegmentFile {
  /** Write bytes at `offset` within the segment. */
  write(offset: number, data: Buffer): Promise<void>;
  /** Close; the segment keeps its full, pre-padded size either way. */
  close(): Promise<void>;
}

export interface WalWriter {
  /** Open (create pre-padded to walSegSize, or reuse) the segment `name`. */
  openSegment(name: string): Promise<WalSegmentFile>;
  /** Write a small whole file (timeline history). */
  writeFile(name: string, contents: Buffer): Promise<void>;
  /** archive_status/<name>.done */
  markDone(name: string): Promise<void>;
  /** Everything written; finish the container (tar trailer). */
  finish(): Promise<void>;
  /** Give up; close what is open. */
  abort(): Promise<void>;
}
