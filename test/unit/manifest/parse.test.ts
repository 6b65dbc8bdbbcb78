import { describe, expect, it } from 'vitest';
import { checksumOf, createChecksummer, crc32c, CRC32C_INIT, crc32cFinish, crc32cTables, parseChecksumAlgorithm } from '../../../src/manifest/checksum.js';
import { manifestChecksumOf, parseManifest } from '../../../src/manifest/parse.js';

/** A manifest as the server writes it: every line but the last, then the checksum line. */
function manifest(body: string): Buffer {
  return Buffer.from(`${body}"Manifest-Checksum": "${manifestChecksumOf(body)}"}\n`);
}

const V2 = `{ "PostgreSQL-Backup-Manifest-Version": 2,
"System-Identifier": 7440000000000000001,
"Files": [
{ "Path": "backup_label", "Size": 227, "Last-Modified": "2026-12-04 10:00:00 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "0A1B2C3D" },
{ "Encoded-Path": "626173652f312f7a", "Size": 0, "Last-Modified": "2026-12-04 10:00:00 GMT" },
{ "Path": "global/pg_control", "Size": 8192, "Last-Modified": "2026-12-04 10:00:00 GMT", "Checksum-Algorithm": "sha256", "Checksum": "${'ab'.repeat(32)}" }
],
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000138" }
],
`;

describe('checksums', () => {
  it('CRC-32C of "123456789" is E3069283, printed in little-endian byte order', () => {
    expect(crc32cFinish(crc32c(CRC32C_INIT, Buffer.from('123456789')))).toBe(0xe3069283);
    expect(checksumOf('CRC32C', Buffer.from('123456789'))).toBe('839206e3');
  });
  it('slice-by-8 and bytewise agree across odd split points', () => {
    const data = Buffer.from(Array.from({ length: 1031 }, (_, i) => (i * 37 + 11) & 0xff));
    const whole = checksumOf('CRC32C', data);
    for (const cut of [1, 7, 8, 9, 500, 1030]) {
      const c = createChecksummer('CRC32C');
      c.update(data.subarray(0, cut));
      c.update(data.subarray(cut));
      expect(c.digest()).toBe(whole);
    }
  });
  it('the native and the table CRC-32C agree, chained in any pieces', () => {
    const data = Buffer.from(Array.from({ length: 200_003 }, (_, i) => (i * 131 + 7) & 0xff));
    let a = CRC32C_INIT;
    let b = CRC32C_INIT;
    for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7 + 3) % 9000) {
      const piece = data.subarray(at, at + step);
      a = crc32c(a, piece);
      b = crc32cTables(b, piece);
    }
    expect(a).toBe(b);
  });
  it('SHA-2 algorithms and names as pg_checksum_parse_type reads them', () => {
    expect(checksumOf('SHA256', Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(parseChecksumAlgorithm('sha512')).toBe('SHA512');
    expect(parseChecksumAlgorithm('crc32c')).toBe('CRC32C');
    expect(parseChecksumAlgorithm('md5')).toBeUndefined();
  });
});

describe('parseManifest', () => {
  it('reads a version 2 manifest: files in order, encoded paths, WAL ranges', () => {
    const m = parseManifest(manifest(V2));
    expect(m.version).toBe(2);
    expect(m.systemIdentifier).toBe(7440000000000000001n);
    expect(m.files.map((f) => f.path)).toEqual(['backup_label', 'base/1/z', 'global/pg_control']);
    expect(m.files[0]).toMatchObject({ size: 227, checksumAlgorithm: 'CRC32C', checksum: '0a1b2c3d' });
    expect(m.files[1]).toMatchObject({ encodedPath: true, checksumAlgorithm: 'NONE', checksum: '' });
    expect(m.files[2]?.checksumAlgorithm).toBe('SHA256');
    expect(m.walRanges).toEqual([{ timeline: 1, startLsn: 0x2000028n, endLsn: 0x2000138n }]);
  });

  it('calls hooks in document order and lets them stop the parse', () => {
    const seen: string[] = [];
    expect(() =>
      parseManifest(manifest(V2), {
        onFile: (f) => {
          seen.push(f.path);
          if (f.path === 'base/1/z') throw new Error('stop');
        },
      }),
    ).toThrow('stop');
    expect(seen).toEqual(['backup_label', 'base/1/z']);
  });

  const cases: [string, Buffer, string][] = [
    ['a changed file checksum (body no longer matches)', Buffer.from(manifest(V2).toString().replace('0A1B2C3D', '0A1B2C3E')), 'manifest checksum mismatch'],
    ['truncated after a comma', Buffer.from(V2.slice(0, V2.indexOf('"Files"'))), 'could not parse backup manifest: The input string ended unexpectedly.'],
    ['truncated inside a string', Buffer.from(V2.slice(0, V2.indexOf('ackup_label'))), 'could not parse backup manifest: Token ""b" is invalid.'],
    ['a bad token', manifest(V2.replace('"Size": 227', '"Size": 227x')), 'could not parse backup manifest: Token "227x" is invalid.'],
    ['a missing comma', manifest(V2.replace('"Size": 227,', '"Size": 227')), 'could not parse backup manifest: Expected "," or "}", but found ""Last-Modified"".'],
    ['version not first', manifest(V2.replace('"PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": 7440000000000000001,', '"System-Identifier": 7440000000000000001,\n"PostgreSQL-Backup-Manifest-Version": 2,')), 'could not parse backup manifest: expected version indicator'],
    ['version 3', manifest(V2.replace('Version": 2', 'Version": 3')), 'could not parse backup manifest: unexpected manifest version'],
    ['no size', manifest(V2.replace('"Size": 227, ', '')), 'could not parse backup manifest: missing size'],
    ['an unknown algorithm', manifest(V2.replace('"CRC32C"', '"MD5"')), 'unrecognized checksum algorithm: "MD5"'],
    ['a bad file checksum', manifest(V2.replace('0A1B2C3D', '0A1B2C3')), 'invalid checksum for file "backup_label": "0A1B2C3"'],
    ['a bad LSN', manifest(V2.replace('"0/2000028"', '"zz"')), 'could not parse backup manifest: could not parse start LSN'],
    ['an unknown file field', manifest(V2.replace('"Size": 0', '"Bytes": 0')), 'could not parse backup manifest: unexpected file field'],
    ['no final newline', manifest(V2).subarray(0, -1), 'could not parse backup manifest: last line not newline-terminated'],
    ['a short manifest checksum', Buffer.from(`${V2}"Manifest-Checksum": "abcd"}\n`), 'invalid manifest checksum: "abcd"'],
    ['an invalid escape', manifest(V2.replace('backup_label', 'backup\\qlabel')), 'could not parse backup manifest: Escape sequence "\\q" is invalid.'],
  ];
  for (const [name, input, message] of cases) {
    it(`${name}: pg's message`, () => {
      expect(() => parseManifest(input)).toThrow(message);
      try {
        parseManifest(input);
      } catch (e) {
        expect((e as Error).message).toBe(message);
      }
    });
  }
});
