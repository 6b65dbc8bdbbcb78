/**
 * A sequential WAL reader with the behaviour of PostgreSQL 18's xlogreader.c as pg_waldump drives it
 * (read from a segment source, on one timeline, never past an end LSN): every page header is checked
 * (magic, info bits, long header of a segment's first page, page address, timeline not going back),
 * every record header (length, resource manager, prev-link), every record's CRC-32C, records continued
 * across pages and segments (with the continuation flags and remaining lengths cross-checked, and
 * overwritten continuations followed), and each record's fragment headers.  Messages are pg's.
 *
 * Reading stops quietly (no error) when the next record would need bytes at or past the end LSN, as
 * pg_waldump's page reader does with --end.
 */
import { formatLsn, walFileName, type Lsn, type TimeLineId } from '../../lsn.js';
import { decodeLongPageHeader, decodePageHeader, pageHeaderSize } from './page-header.js';
import { checkRecordFragments, checkRecordHeader, decodeRecordHeader, recordCrcMatches, type RecordHeader } from './record.js';
import { WalReadFatal, type WalSegmentFile, type WalSegmentSource } from './segment-source.js';
import {
  maxAlign,
  RM_XLOG_ID,
  SIZE_OF_SHORT_PHD,
  SIZE_OF_XLOG_RECORD,
  XLOG_BLCKSZ,
  XLOG_SWITCH,
  XLP_ALL_FLAGS,
  XLP_FIRST_IS_CONTRECORD,
  XLP_FIRST_IS_OVERWRITE_CONTRECORD,
  XLP_LONG_HEADER,
  XLR_RMGR_INFO_MASK,
  type WalFormat,
} from './wal-format.js';

const BLCKSZ = BigInt(XLOG_BLCKSZ);

export interface XLogReaderOptions {
  source: WalSegmentSource;
  walSegSize: number;
  timeline: TimeLineId;
  /** Read nothing at or past this LSN (0n: no limit). */
  endPtr: Lsn;
  format: WalFormat;
  /** When known, a long page header from another system is an error (pg_waldump does not check this). */
  systemIdentifier?: bigint | undefined;
  /**
   * Which timeline's file holds a segment, when reading across a timeline's ancestors (see
   * timeline-history.ts: tliOfSegment); by default every segment is read from `timeline`.
   */
  segmentTimeline?: ((segNo: bigint) => TimeLineId) | undefined;
}

export interface WalRecord {
  lsn: Lsn;
  header: RecordHeader;
  /** Start of the next record. */
  nextLsn: Lsn;
}

type Step = 'fail';

export class XLogReader {
  private readonly o: XLogReaderOptions;
  private readonly segSize: bigint;
  private readonly readBuf = Buffer.alloc(XLOG_BLCKSZ);
  private readLen = 0;
  private segOff = 0;
  /** The segment last opened (ws_segno/ws_tli), also the page cache key; 0n after an invalidation. */
  private segNo = 0n;
  private segTli = 0;
  private file: WalSegmentFile | undefined;
  private fileName = '';
  private latestPagePtr = 0n;
  private latestPageTli = 0;
  private nextRecPtr = 0n;
  private decodeRecPtr = 0n;
  /** The LSN of the last record returned (pg's ReadRecPtr). */
  readRecPtr = 0n;
  endRecPtr = 0n;
  /** The message of the last failure, if it had one (pg's errormsg_buf). */
  errorMessage: string | undefined;
  /** The page reader was asked for bytes past the end LSN. */
  endReached = false;
  /** Records returned so far. */
  recordCount = 0;

  constructor(options: XLogReaderOptions) {
    this.o = options;
    this.segSize = BigInt(options.walSegSize);
  }

  async close(): Promise<void> {
    const f = this.file;
    this.file = undefined;
    if (f) await f.close();
  }

  /** XLogBeginRead: the next record to read starts at `lsn`. */
  beginRead(lsn: Lsn): void {
    this.endRecPtr = lsn;
    this.nextRecPtr = lsn;
    this.readRecPtr = 0n;
    this.decodeRecPtr = 0n;
  }

  /** XLogReadRecord: the next record, or undefined at the end (errorMessage says whether that is an error). */
  async readRecord(): Promise<WalRecord | undefined> {
    const r = await this.decodeNextRecord();
    if (r === undefined) return undefined;
    this.readRecPtr = r.lsn;
    this.endRecPtr = r.nextLsn;
    this.recordCount++;
    return r;
  }

  /** XLogFindNextRecord: position on the first record at or after `lsn`; undefined when there is none. */
  async findNextRecord(lsn: Lsn): Promise<Lsn | undefined> {
    let tmp = lsn;
    for (;;) {
      const targetRecOff = Number(tmp % BLCKSZ);
      const targetPagePtr = tmp - BigInt(targetRecOff);
      if ((await this.readPageInternal(targetPagePtr, targetRecOff)) < 0) return this.findFailed();
      const info = this.readBuf.readUInt16LE(2);
      const phs = pageHeaderSize(info);
      if ((await this.readPageInternal(targetPagePtr, phs)) < 0) return this.findFailed();
      if ((info & XLP_FIRST_IS_CONTRECORD) !== 0) {
        const remLen = this.readBuf.readUInt32LE(16);
        if (maxAlign(remLen) >= XLOG_BLCKSZ - phs) {
          tmp = targetPagePtr + BLCKSZ;
          continue;
        }
        tmp = targetPagePtr + BigInt(phs + maxAlign(remLen));
      } else {
        tmp = targetPagePtr + BigInt(phs);
      }
      break;
    }
    this.beginRead(tmp);
    while ((await this.readRecord()) !== undefined) {
      if (lsn <= this.readRecPtr) {
        const found = this.readRecPtr;
        this.beginRead(found);
        return found;
      }
    }
    return this.findFailed();
  }

  private findFailed(): undefined {
    this.invalidate();
    return undefined;
  }

  private report(message: string): Step {
    this.errorMessage = message;
    return 'fail';
  }

  private invalidate(): void {
    this.segNo = 0n;
    this.segOff = 0;
    this.readLen = 0;
  }

  /** XLogDecodeNextRecord, one record at a time. */
  private async decodeNextRecord(): Promise<WalRecord | undefined> {
    this.errorMessage = undefined;
    const randAccess = this.decodeRecPtr === 0n;
    let recPtr = this.nextRecPtr;
    for (;;) {
      const r = await this.decodeAt(recPtr, randAccess);
      if (typeof r === 'bigint') {
        recPtr = r; // an overwritten continuation: read again from there
        continue;
      }
      if (r === 'fail') {
        this.invalidate();
        return undefined;
      }
      return r;
    }
  }

  /** One attempt at the record at recPtr: the record, 'fail', or where to restart. */
  private async decodeAt(recPtrIn: Lsn, randAccess: boolean): Promise<WalRecord | Step | bigint> {
    let recPtr = recPtrIn;
    let targetPagePtr = recPtr - (recPtr % BLCKSZ);
    let targetRecOff = Number(recPtr % BLCKSZ);
    if ((await this.readPageInternal(targetPagePtr, Math.min(targetRecOff + SIZE_OF_XLOG_RECORD, XLOG_BLCKSZ))) < 0) {
      return 'fail';
    }
    const firstInfo = this.readBuf.readUInt16LE(2);
    const phs = pageHeaderSize(firstInfo);
    if (targetRecOff === 0) {
      recPtr += BigInt(phs);
      targetRecOff = phs;
    } else if (targetRecOff < phs) {
      return this.report(`invalid record offset at ${formatLsn(recPtr)}: expected at least ${phs}, got ${targetRecOff}`);
    }
    if ((firstInfo & XLP_FIRST_IS_CONTRECORD) !== 0 && targetRecOff === phs) {
      return this.report(`contrecord is requested by ${formatLsn(recPtr)}`);
    }
    const totalLen = this.readBuf.readUInt32LE(targetRecOff);
    let gotHeader = false;
    if (targetRecOff <= XLOG_BLCKSZ - SIZE_OF_XLOG_RECORD) {
      const msg = checkRecordHeader(decodeRecordHeader(this.readBuf, targetRecOff), recPtr, this.decodeRecPtr, randAccess, this.o.format);
      if (msg !== undefined) return this.report(msg);
      gotHeader = true;
    } else if (totalLen < SIZE_OF_XLOG_RECORD) {
      return this.report(`invalid record length at ${formatLsn(recPtr)}: expected at least ${SIZE_OF_XLOG_RECORD}, got ${totalLen}`);
    }

    let record: Buffer;
    let len = XLOG_BLCKSZ - targetRecOff;
    if (totalLen > len) {
      // The record continues on the following pages.
      const pieces: Buffer[] = [Buffer.from(this.readBuf.subarray(targetRecOff, XLOG_BLCKSZ))];
      let gotLen = len;
      let remLen = 0;
      let contPhs = 0;
      do {
        targetPagePtr += BLCKSZ;
        if ((await this.readPageInternal(targetPagePtr, SIZE_OF_SHORT_PHD)) < 0) return 'fail';
        const ph = decodePageHeader(this.readBuf);
        if ((ph.info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) !== 0) return targetPagePtr;
        if ((ph.info & XLP_FIRST_IS_CONTRECORD) === 0) {
          return this.report(`there is no contrecord flag at ${formatLsn(recPtr)}`);
        }
        if (ph.remLen === 0 || totalLen !== ph.remLen + gotLen) {
          return this.report(`invalid contrecord length ${ph.remLen} (expected ${totalLen - gotLen}) at ${formatLsn(recPtr)}`);
        }
        let readOff = await this.readPageInternal(targetPagePtr, Math.min(totalLen - gotLen + SIZE_OF_SHORT_PHD, XLOG_BLCKSZ));
        if (readOff < 0) return 'fail';
        contPhs = pageHeaderSize(ph.info);
        if (readOff < contPhs) readOff = await this.readPageInternal(targetPagePtr, contPhs);
        len = Math.min(XLOG_BLCKSZ - contPhs, ph.remLen);
        if (readOff < contPhs + len) readOff = await this.readPageInternal(targetPagePtr, contPhs + len);
        if (readOff < 0) return 'fail';
        pieces.push(Buffer.from(this.readBuf.subarray(contPhs, contPhs + len)));
        gotLen += len;
        remLen = ph.remLen;
        if (!gotHeader) {
          const head = Buffer.concat(pieces);
          const msg = checkRecordHeader(decodeRecordHeader(head), recPtr, this.decodeRecPtr, randAccess, this.o.format);
          if (msg !== undefined) return this.report(msg);
          gotHeader = true;
        }
      } while (gotLen < totalLen);
      record = Buffer.concat(pieces, totalLen);
      if (!recordCrcMatches(record)) {
        return this.report(`incorrect resource manager data checksum in record at ${formatLsn(recPtr)}`);
      }
      this.decodeRecPtr = recPtr;
      this.nextRecPtr = targetPagePtr + BigInt(contPhs + maxAlign(remLen));
    } else {
      if ((await this.readPageInternal(targetPagePtr, Math.min(targetRecOff + totalLen, XLOG_BLCKSZ))) < 0) return 'fail';
      // A view: the record is checked before the page buffer is read into again.
      record = this.readBuf.subarray(targetRecOff, targetRecOff + totalLen);
      if (!recordCrcMatches(record)) {
        return this.report(`incorrect resource manager data checksum in record at ${formatLsn(recPtr)}`);
      }
      this.nextRecPtr = recPtr + BigInt(maxAlign(totalLen));
      this.decodeRecPtr = recPtr;
    }
    const header = decodeRecordHeader(record);
    if (header.rmid === RM_XLOG_ID && (header.info & XLR_RMGR_INFO_MASK) === XLOG_SWITCH) {
      // The rest of the segment is unused: the next record starts the next segment.
      this.nextRecPtr += this.segSize - 1n;
      this.nextRecPtr -= this.nextRecPtr % this.segSize;
    }
    const msg = checkRecordFragments(record, this.o.format, this.readRecPtr);
    if (msg !== undefined) return this.report(msg);
    return { lsn: recPtr, header, nextLsn: this.nextRecPtr };
  }

  /** ReadPageInternal: the page at pagePtr with at least reqLen valid bytes, its header checked; -1 on failure. */
  private async readPageInternal(pagePtr: Lsn, reqLen: number): Promise<number> {
    const targetSegNo = pagePtr / this.segSize;
    const targetPageOff = Number(pagePtr % this.segSize);
    if (targetSegNo === this.segNo && targetPageOff === this.segOff && reqLen <= this.readLen) return this.readLen;
    this.readLen = 0;
    if (targetSegNo !== this.segNo && targetPageOff !== 0) {
      // A segment read for the first time: its first page (long header) is checked too.
      const segPtr = pagePtr - BigInt(targetPageOff);
      if ((await this.pageRead(segPtr, XLOG_BLCKSZ)) < 0 || !this.validatePageHeader(segPtr)) return this.pageFailed();
    }
    let readLen = await this.pageRead(pagePtr, Math.max(reqLen, SIZE_OF_SHORT_PHD));
    if (readLen < 0 || readLen <= SIZE_OF_SHORT_PHD) return this.pageFailed();
    const hdrSize = pageHeaderSize(this.readBuf.readUInt16LE(2));
    if (readLen < hdrSize) {
      readLen = await this.pageRead(pagePtr, hdrSize);
      if (readLen < 0) return this.pageFailed();
    }
    if (!this.validatePageHeader(pagePtr)) return this.pageFailed();
    this.segNo = targetSegNo;
    this.segOff = targetPageOff;
    this.readLen = readLen;
    return readLen;
  }

  private pageFailed(): number {
    this.invalidate();
    return -1;
  }

  /** pg_waldump's page reader: never past the end LSN; the bytes come from the segment file. */
  private async pageRead(pagePtr: Lsn, reqLen: number): Promise<number> {
    let count = XLOG_BLCKSZ;
    const end = this.o.endPtr;
    if (end !== 0n) {
      if (pagePtr + BLCKSZ <= end) count = XLOG_BLCKSZ;
      else if (pagePtr + BigInt(reqLen) <= end) count = Number(end - pagePtr);
      else {
        this.endReached = true;
        return -1;
      }
    }
    await this.walRead(pagePtr, count);
    return count;
  }

  /** WALRead of one page (pages never straddle segments). */
  private async walRead(pagePtr: Lsn, count: number): Promise<void> {
    const segNo = pagePtr / this.segSize;
    const startOff = Number(pagePtr % this.segSize);
    const tli = this.o.segmentTimeline?.(segNo) ?? this.o.timeline;
    if (this.file === undefined || segNo !== this.segNo || tli !== this.segTli) {
      const name = walFileName(tli, segNo, this.o.walSegSize);
      if (name !== this.fileName || this.file === undefined) {
        await this.close();
        this.fileName = '';
        const f = await this.o.source.open(name);
        if (f === undefined) throw new WalReadFatal(`could not find file "${name}": No such file or directory`);
        this.file = f;
        this.fileName = name;
      }
      this.segTli = tli;
      this.segNo = segNo;
    }
    const data = await (this.file as WalSegmentFile).read(startOff, count);
    if (data.length < count) {
      const off = startOff + data.length;
      throw new WalReadFatal(`could not read from file "${this.fileName}", offset ${off}: read 0 of ${count - data.length}`);
    }
    data.copy(this.readBuf, 0, 0, count);
  }

  /** XLogReaderValidatePageHeader of the page now in readBuf, which is at recPtr. */
  private validatePageHeader(recPtr: Lsn): boolean {
    const hdr = decodePageHeader(this.readBuf);
    const segNo = recPtr / this.segSize;
    const offset = Number(recPtr % this.segSize);
    const where = (): string =>
      `in WAL segment ${walFileName(this.segTli, segNo, this.o.walSegSize)}, LSN ${formatLsn(recPtr)}, offset ${offset}`;
    const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
    if (hdr.magic !== this.o.format.pageMagic) {
      this.report(`invalid magic number ${hex4(hdr.magic)} ${where()}`);
      return false;
    }
    if ((hdr.info & ~XLP_ALL_FLAGS) !== 0) {
      this.report(`invalid info bits ${hex4(hdr.info)} ${where()}`);
      return false;
    }
    if ((hdr.info & XLP_LONG_HEADER) !== 0) {
      const long = decodeLongPageHeader(this.readBuf);
      const sysid = this.o.systemIdentifier;
      if (sysid !== undefined && sysid !== 0n && long.sysid !== sysid) {
        this.report(
          `WAL file is from different database system: WAL file database system identifier is ${long.sysid}, pg_control database system identifier is ${sysid}`,
        );
        return false;
      }
      if (long.segSize !== this.o.walSegSize) {
        this.report('WAL file is from different database system: incorrect segment size in page header');
        return false;
      }
      if (long.xlogBlcksz !== XLOG_BLCKSZ) {
        this.report('WAL file is from different database system: incorrect XLOG_BLCKSZ in page header');
        return false;
      }
    } else if (offset === 0) {
      this.report(`invalid info bits ${hex4(hdr.info)} ${where()}`);
      return false;
    }
    if (hdr.pageAddr !== recPtr) {
      this.report(`unexpected pageaddr ${formatLsn(hdr.pageAddr)} ${where()}`);
      return false;
    }
    if (recPtr > this.latestPagePtr && hdr.tli < this.latestPageTli) {
      this.report(`out-of-sequence timeline ID ${hdr.tli} (after ${this.latestPageTli}) ${where()}`);
      return false;
    }
    this.latestPagePtr = recPtr;
    this.latestPageTli = hdr.tli;
    return true;
  }
}
