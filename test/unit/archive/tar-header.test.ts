import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import {
  decodeTarHeader,
  encodeTarHeader,
  isZeroBlock,
  readTarNumber,
  tarChecksum,
  tarPaddingBytes,
  TAR_BLOCK_SIZE,
  writeTarNumber,
} from '../../../src/archive/tar-header.js';
import type { TarMember } from '../../../src/archive/streamer.js';
import { fixture, tarStreamEntries } from './helpers.js';

const file = (over: Partial<TarMember> = {}): TarMember => ({
  name: 'base/1/1234',
  size: 8192,
  mode: 0o600,
  uid: 1000,
  gid: 1000,
  mtime: 1700000000,
  type: 'file',
  linkTarget: '',
  ...over,
});

/** Store the checksum again after a test edited header bytes (decodeTarHeader verifies it). */
function resum(h: Buffer): Buffer {
  writeTarNumber(h, 148, 8, tarChecksum(h));
  return h;
}

/** The headers of an archive made only of members with data sizes we can read from the headers. */
function headersOf(archive: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + TAR_BLOCK_SIZE <= archive.length) {
    const h = archive.subarray(off, off + TAR_BLOCK_SIZE);
    if (isZeroBlock(h)) break;
    out.push(h);
    const size = readTarNumber(h, 124, 12);
    off += TAR_BLOCK_SIZE + size + tarPaddingBytes(size);
  }
  return out;
}

describe('tarPaddingBytes', () => {
  it.each([
    [0, 0],
    [1, 511],
    [511, 1],
    [512, 0],
    [513, 511],
    [8192, 0],
    [2 ** 33 + 5, 507],
  ])('size %d needs %d bytes of padding', (size, pad) => {
    expect(tarPaddingBytes(size)).toBe(pad);
    expect((size + pad) % 512).toBe(0);
  });
});

describe('tar numbers', () => {
  it('writes octal with a trailing space when the value fits', () => {
    const b = Buffer.alloc(12);
    writeTarNumber(b, 0, 12, 8192);
    expect(b.toString('latin1')).toBe('00000020000 ');
    expect(readTarNumber(b, 0, 12)).toBe(8192);
  });

  it('switches to base-256 at 8^11 bytes (8 GiB) for a 12-byte field', () => {
    const b = Buffer.alloc(12);
    writeTarNumber(b, 0, 12, 8 ** 11 - 1);
    expect(b[0]).not.toBe(0x80);
    expect(readTarNumber(b, 0, 12)).toBe(8 ** 11 - 1);
    writeTarNumber(b, 0, 12, 8 ** 11);
    expect(b[0]).toBe(0x80);
    expect(b.subarray(1).toString('hex')).toBe('0000000000000200000000') // 11 bytes: 2^33 big-endian;
    expect(readTarNumber(b, 0, 12)).toBe(8 ** 11);
  });

  it('reads octal up to the first non-octal byte, as read_tar_number does', () => {
    expect(readTarNumber(Buffer.from('0000644\0'), 0, 8)).toBe(0o644);
    expect(readTarNumber(Buffer.from('644 \0\0\0\0'), 0, 8)).toBe(0o644);
    expect(readTarNumber(Buffer.from('  644\0\0\0'), 0, 8)).toBe(0);
    expect(readTarNumber(Buffer.from('01234567'), 0, 8)).toBe(0o1234567);
  });
});

describe('encodeTarHeader', () => {
  it('lays out the fields as tarCreateHeader does', () => {
    const h = encodeTarHeader(file());
    expect(h.length).toBe(512);
    expect(h.subarray(0, 100).toString('latin1').replace(/\0+$/, '')).toBe('base/1/1234');
    expect(h.subarray(100, 108).toString('latin1')).toBe('0000600 ');
    expect(h.subarray(108, 116).toString('latin1')).toBe('0001750 ');
    expect(h.subarray(116, 124).toString('latin1')).toBe('0001750 ');
    expect(h.subarray(124, 136).toString('latin1')).toBe('00000020000 ');
    expect(h.subarray(136, 148).toString('latin1')).toBe((1700000000).toString(8).padStart(11, '0') + ' ');
    expect(String.fromCharCode(h[156] as number)).toBe('0');
    expect(h.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    expect(h.subarray(263, 265).toString('latin1')).toBe('00');
    expect(h.subarray(265, 297).toString('latin1').replace(/\0+$/, '')).toBe('postgres');
    expect(h.subarray(297, 329).toString('latin1').replace(/\0+$/, '')).toBe('postgres');
    expect(h.subarray(329, 337).toString('latin1')).toBe('0000000 ');
    expect(h.subarray(337, 345).toString('latin1')).toBe('0000000 ');
    expect(h.subarray(345).every((b) => b === 0)).toBe(true);
    // checksum: 7 octal digits and a space, over the header with the field taken as spaces
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    expect(h.subarray(148, 156).toString('latin1')).toBe(sum.toString(8).padStart(7, '0') + ' ');
    expect(tarChecksum(h)).toBe(sum);
  });

  it('adds a trailing slash and size 0 to directories and symlinks', () => {
    const d = encodeTarHeader(file({ name: 'base/1', type: 'directory', mode: 0o700, size: 0 }));
    expect(d.subarray(0, 8).toString('latin1')).toBe('base/1/\0');
    expect(String.fromCharCode(d[156] as number)).toBe('5');
    const l = encodeTarHeader(file({ name: 'pg_tblspc/16384', type: 'symlink', size: 999, linkTarget: '/srv/ts' }));
    expect(l.subarray(0, 17).toString('latin1')).toBe('pg_tblspc/16384/\0');
    expect(readTarNumber(l, 124, 12)).toBe(0);
    expect(String.fromCharCode(l[156] as number)).toBe('2');
    expect(l.subarray(157, 165).toString('latin1')).toBe('/srv/ts\0');
  });

  it('keeps at most 99 bytes of a name, the slash of a directory in the 100th', () => {
    const long = 'x'.repeat(120);
    const f = encodeTarHeader(file({ name: long }));
    expect(f.subarray(0, 100).toString('latin1')).toBe('x'.repeat(99) + '\0');
    const d = encodeTarHeader(file({ name: long, type: 'directory', size: 0 }));
    expect(d.subarray(0, 100).toString('latin1')).toBe('x'.repeat(99) + '/');
  });

  it('encodes sizes of 8 GiB and more in base-256, and decodes them back', () => {
    const h = encodeTarHeader(file({ size: 2 ** 40 + 3 }));
    expect(h[124]).toBe(0x80);
    expect(decodeTarHeader(h).size).toBe(2 ** 40 + 3);
  });

  it('is read back by tar-stream (checksum and fields)', async () => {
    const members = [
      file(),
      file({ name: 'global', type: 'directory', size: 0, mode: 0o750 }),
      file({ name: 'pg_tblspc/16384', type: 'symlink', size: 0, linkTarget: '/srv/ts' }),
      file({ name: 'empty', size: 0, mode: 0o640, uid: 0o4000, gid: 0o2000 }),
    ];
    const parts: Buffer[] = [];
    for (const m of members) {
      parts.push(encodeTarHeader(m));
      const n = m.type === 'file' ? m.size : 0;
      parts.push(Buffer.alloc(n + tarPaddingBytes(n), 0x61));
    }
    parts.push(Buffer.alloc(1024));
    const entries = await tarStreamEntries(Buffer.concat(parts));
    expect(entries.map((e) => [e.name, e.type, e.size, e.mode, e.uid, e.gid, e.mtime, e.linkname])).toEqual([
      ['base/1/1234', 'file', 8192, 0o600, 1000, 1000, 1700000000, ''],
      ['global/', 'directory', 0, 0o750, 1000, 1000, 1700000000, ''],
      ['pg_tblspc/16384/', 'symlink', 0, 0o600, 1000, 1000, 1700000000, '/srv/ts'],
      ['empty', 'file', 0, 0o640, 0o4000, 0o2000, 1700000000, ''],
    ]);
  });

  it("reproduces every header of a real PostgreSQL 15 server's base.tar byte for byte", () => {
    const headers = headersOf(fixture('pg15-base-excerpt.tar'));
    expect(headers.length).toBe(11);
    for (const h of headers) {
      const m = decodeTarHeader(h);
      // The server strips nothing: the name of a directory already carries its slash.
      expect(encodeTarHeader(m).equals(h), m.name).toBe(true);
    }
  });
});

describe('decodeTarHeader', () => {
  it('reads the members of a GNU tar archive like tar-stream does', async () => {
    const archive = fixture('gnu-ustar.tar');
    const ours = headersOf(archive).map(decodeTarHeader);
    const theirs = await tarStreamEntries(archive);
    expect(ours.map((m) => [m.name, m.size, m.mode, m.uid, m.gid, m.mtime, m.linkTarget])).toEqual(
      theirs.map((e) => [e.name, e.size, e.mode, e.uid, e.gid, e.mtime, e.linkname]),
    );
    expect(ours.map((m) => m.type)).toEqual(theirs.map((e) => (e.type === 'directory' || e.type === 'symlink' ? e.type : 'file')));
    expect(ours.some((m) => Buffer.byteLength(m.name) === 99)).toBe(true);
  });

  it('rejects a member with an empty name', () => {
    const h = encodeTarHeader(file());
    h.fill(0, 0, 100);
    resum(h);
    expect(() => decodeTarHeader(h)).toThrow(ProtocolError);
    expect(() => decodeTarHeader(h)).toThrow(/^tar member has empty name$/);
  });

  it('rejects sizes beyond 2^53', () => {
    const h = encodeTarHeader(file());
    h[124] = 0x80;
    h.fill(0xff, 125, 136);
    resum(h);
    expect(() => decodeTarHeader(h)).toThrow(/too large/);
  });

  it('classifies type flags like PostgreSQL (anything else is not a directory or link)', () => {
    const h = encodeTarHeader(file());
    for (const [flag, type] of [['0', 'file'], ['\0', 'file'], ['5', 'directory'], ['2', 'symlink'], ['x', 'other']] as const) {
      h[156] = flag.charCodeAt(0);
      expect(decodeTarHeader(resum(h)).type).toBe(type);
    }
  });

  it('refuses hard links, devices and FIFOs, which a server never sends (issue 10)', () => {
    const h = encodeTarHeader(file());
    for (const [flag, what] of [['1', 'a hard link'], ['3', 'a character device'], ['4', 'a block device'], ['6', 'a FIFO']] as const) {
      h[156] = flag.charCodeAt(0);
      expect(() => decodeTarHeader(resum(h))).toThrow(`tar member "base/1/1234" is ${what}, which a server never sends`);
    }
  });

  it('verifies the header checksum (unsigned or signed sum), naming the member (issue 10)', () => {
    const h = encodeTarHeader(file());
    expect(decodeTarHeader(h).name).toBe('base/1/1234');
    h[200] = 0x41; // a byte in the linkname field changed in transit
    expect(() => decodeTarHeader(h)).toThrow(ProtocolError);
    expect(() => decodeTarHeader(h)).toThrow('invalid tar header checksum in member "base/1/1234"');
    // A writer that summed signed chars: accepted, as GNU tar does.
    const s = encodeTarHeader(file({ name: 'caf\u00e9' }));
    let signed = 8 * 32;
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) signed += s.readInt8(i);
    writeTarNumber(s, 148, 8, signed);
    expect(decodeTarHeader(s).name).toBe('caf\u00e9');
  });

  it('refuses bytes after the NUL that ends a member name (issue 10)', () => {
    const h = encodeTarHeader(file({ name: 'PG_VERSION' }));
    h.write('../../outside', 11, 'latin1');
    expect(() => decodeTarHeader(resum(h))).toThrow('tar member name "PG_VERSION" has more bytes after its terminating NUL');
  });

  it('reads a link target only for symlinks, at most 99 bytes', () => {
    const h = encodeTarHeader(file({ type: 'symlink', linkTarget: '' }));
    h.write('y'.repeat(100), 157, 'latin1');
    expect(decodeTarHeader(resum(h)).linkTarget).toBe('y'.repeat(99));
    h[156] = 0x30;
    expect(decodeTarHeader(resum(h)).linkTarget).toBe('');
  });
});
