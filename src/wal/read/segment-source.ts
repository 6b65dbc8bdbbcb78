/**
 * Where a WAL reader gets its segment files: a directory (dir-source.ts) or a tar archive, possibly
 * compressed (tar-source.ts).  Failures that end the reading are thrown as WalReadFatal carrying
 * pg_waldump's text, e.g. `could not find file "000000010000000000000003": No such file or directory`.
 */

/** One open segment file. */
export interface WalSegmentFile {
  /** Up to `length` bytes from `offset`; fewer only at the end of the file. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface WalSegmentSource {
  /** Open a segment file by name; undefined when there is no such file. */
  open(name: string): Promise<WalSegmentFile | undefined>;
  /** Release what the source holds (open files, running decompression). */
  close(): Promise<void>;
}

/** A failure that ends the reading of a WAL range, with pg_waldump's message (and optional detail/hint). */
export class WalReadFatal extends Error {
  constructor(
    message: string,
    readonly detail?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'WalReadFatal';
  }
}
