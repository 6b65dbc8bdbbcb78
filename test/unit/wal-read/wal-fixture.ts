/**
 * Byte fixtures for the WAL reader: segments written the way a server lays records out (page headers
 * every 8 kB, a long header at each segment start, records MAXALIGNed, continued across pages with
 * XLP_FIRST_IS_CONTRECORD and xlp_rem_len), each record with a valid CRC-32C and prev-link.
 */
import { crc32c, crc32cFinish, CRC32C_INIT } from '../../../src/manifest/checksum.js';
import { walFileName, type Lsn } from '../../../src/lsn.js';
import type { WalSegmentFile, WalSegmentSource } from '../../../src/wal/read/segment-source.js';

export const PAGE = 8192;
export const SEG_SIZE = 1024 * 1024;
export const SYSID = 7000000000000000001n;

export class WalWriter {
  readonly segments = new Map<bigint, Buffer>();
  pos: Lsn;
  prev: Lsn = 0n;
  readonly records: { lsn: Lsn; end: Lsn; length: number }[] = [];

  constructor(
    readonly magic: number,
    start: Lsn,
    public tli = 1,
  ) {
    this.pos = start;
    this.pageHeaderIfNeeded(0);
  }

  private segment(lsn: Lsn): Buffer {
    const no = lsn / BigInt(SEG_SIZE);
    let s = this.segments.get(no);
    if (!s) {
      s = Buffer.alloc(SEG_SIZE);
      this.segments.set(no, s);
    }
    return s;
  }

  private writeByte(b: number): void {
    this.segment(this.pos)[Number(this.pos % BigInt(SEG_SIZE))] = b;
    this.pos += 1n;
  }

  /** At a page start, write its header (continuation info when `remaining` > 0). */
  private pageHeaderIfNeeded(remaining: number): void {
    if (this.pos % BigInt(PAGE) !== 0n) return;
    const seg = this.segment(this.pos);
    const off = Number(this.pos % BigInt(SEG_SIZE));
    const long = off === 0;
    const h = seg.subarray(off, off + (long ? 40 : 24));
    h.writeUInt16LE(this.magic, 0);
    h.writeUInt16LE((long ? 2 : 0) | (remaining > 0 ? 1 : 0), 2);
    h.writeUInt32LE(this.tli, 4);
    h.writeBigUInt64LE(this.pos, 8);
    h.writeUInt32LE(remaining, 16);
    if (long) {
      h.writeBigUInt64LE(SYSID, 24);
      h.writeUInt32LE(SEG_SIZE, 32);
      h.writeUInt32LE(PAGE, 36);
    }
    this.pos += BigInt(long ? 40 : 24);
  }

  /** Append a record with `dataLen` bytes of main data (rmid 0, info 0: a checkpoint-like record). */
  record(dataLen: number, fill = 0x5a): Lsn {
    const body = dataLen <= 255 ? Buffer.alloc(2 + dataLen, fill) : Buffer.alloc(5 + dataLen, fill);
    if (dataLen <= 255) {
      body[0] = 255;
      body[1] = dataLen;
    } else {
      body[0] = 254;
      body.writeUInt32LE(dataLen, 1);
    }
    const rec = Buffer.alloc(24 + body.length);
    rec.writeUInt32LE(rec.length, 0);
    rec.writeUInt32LE(0, 4);
    rec.writeBigUInt64LE(this.prev, 8);
    rec[16] = 0;
    rec[17] = 0;
    body.copy(rec, 24);
    let c = crc32c(CRC32C_INIT, rec.subarray(24));
    c = crc32c(c, rec.subarray(0, 20));
    rec.writeUInt32LE(crc32cFinish(c), 20);
    this.pageHeaderIfNeeded(0);
    const lsn = this.pos;
    for (let i = 0; i < rec.length; i++) {
      if (i > 0) this.pageHeaderIfNeeded(rec.length - i);
      this.writeByte(rec[i] as number);
    }
    const end = this.pos;
    while (this.pos % 8n !== 0n) this.pos += 1n;
    this.prev = lsn;
    this.records.push({ lsn, end, length: rec.length });
    return lsn;
  }

  /** Byte offset of an LSN: [segment number, offset in segment]. */
  at(lsn: Lsn): [bigint, number] {
    return [lsn / BigInt(SEG_SIZE), Number(lsn % BigInt(SEG_SIZE))];
  }

  flip(lsn: Lsn): void {
    const [no, off] = this.at(lsn);
    const s = this.segments.get(no) as Buffer;
    s[off] = (s[off] as number) ^ 0xff;
  }

  /** The segments as files named for the writer's timeline. */
  files(): Map<string, Buffer> {
    const m = new Map<string, Buffer>();
    for (const [no, buf] of this.segments) m.set(walFileName(this.tli, no, SEG_SIZE), buf);
    return m;
  }
}

/** A WalSegmentSource over in-memory files. */
export function memorySource(files: Map<string, Buffer>): WalSegmentSource {
  return {
    async open(name: string): Promise<WalSegmentFile | undefined> {
      const b = files.get(name);
      if (!b) return undefined;
      return { read: async (o, l) => b.subarray(o, o + l), close: async () => undefined };
    },
    async close() {},
  };
}
