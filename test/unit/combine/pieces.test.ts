/**
 * pg_combinebackup's parts: the command line (pg 18's texts), backup_label parsing and rewriting,
 * pg_control of 17 and 18, and the manifest writer's exact format.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GetoptError } from '../../../src/cli/getopt.js';
import { parseCombineCommandLine } from '../../../src/combine/options.js';
import { formatCombineError } from '../../../src/combine/report.js';
import { parseOid } from '../../../src/combine/tablespaces.js';
import { manifestChecksumOf } from '../../../src/manifest/parse.js';
import { escapeJson, formatManifestTime, ManifestWriter } from '../../../src/manifest/write.js';
import { parseBackupLabel, withoutIncrementalLines } from '../../../src/pgdata/backup-label.js';
import { decodeControlFile } from '../../../src/pgdata/control-file.js';
import { controlFile, tempDir } from './fixtures.js';

function errorText(argv: string[]): string {
  try {
    parseCombineCommandLine(argv, { posixlyCorrect: false });
  } catch (e) {
    return formatCombineError(e);
  }
  return '';
}

describe('command line', () => {
  const hint = 'pg_combinebackup: hint: Try "pg_combinebackup --help" for more information.\n';
  it.each([
    [[], `pg_combinebackup: error: no input directories specified\n${hint}`],
    [['/a'], 'pg_combinebackup: error: no output directory specified\n'],
    [['-x'], `pg_combinebackup: invalid option -- 'x'\n${hint}`],
    [['--co', '/a'], `pg_combinebackup: option '--co' is ambiguous; possibilities: '--copy' '--copy-file-range'\n${hint}`],
    [['-o', '/o', '--manifest-checksums=md5', '/a'], 'pg_combinebackup: error: unrecognized checksum algorithm: "md5"\n'],
    [['--sync-method=x', '/a'], 'pg_combinebackup: error: unrecognized sync method: x\n'],
    [['-T', 'a=/b', '/a'], 'pg_combinebackup: error: old directory is not an absolute path in tablespace mapping: a\n'],
    [['-T', 'C:/a=/b', '/a'], 'pg_combinebackup: error: old directory is not an absolute path in tablespace mapping: C:/a\n'],
    [['-T', '/a=b', '/a'], 'pg_combinebackup: error: new directory is not an absolute path in tablespace mapping: b\n'],
    [['-T', '/a=/b=c', '/a'], 'pg_combinebackup: error: multiple "=" signs in tablespace mapping\n'],
    [['-T', '=', '/a'], 'pg_combinebackup: error: invalid tablespace mapping format "=", must be "OLDDIR=NEWDIR"\n'],
    // --help is not in pg_combinebackup's option table: only as the first argument
    [['-o', '/o', '/a', '--help'], `pg_combinebackup: unrecognized option '--help'\n${hint}`],
  ])('%j', (argv, text) => {
    expect(errorText(argv)).toBe(text);
  });

  it('values and defaults; the last copy method wins; --no-manifest means no checksums', () => {
    const r = parseCombineCommandLine(['/full', '-o', '/out', '--clone', '-k', '--no-manifest', '-T', '/x\\=y=/z', '/incr', '-dnN'], { posixlyCorrect: false });
    expect(r.kind).toBe('run');
    if (r.kind !== 'run') return;
    expect(r.options).toMatchObject({
      inputs: ['/full', '/incr'], output: '/out', copyMethod: 'link', manifestChecksums: 'NONE', noManifest: true,
      debug: true, dryRun: true, noSync: true, tablespaceMappings: [{ oldDir: '/x=y', newDir: '/z' }],
    });
    expect(parseCombineCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCombineCommandLine(['-V'])).toEqual({ kind: 'version' });
  });

  it('copy methods the platform lacks: pg\'s texts', () => {
    expect(() => parseCombineCommandLine(['-o', '/o', '--clone', '/a'], { cloneSupported: false })).toThrow('file cloning not supported on this platform');
    expect(() => parseCombineCommandLine(['-o', '/o', '--copy-file-range', '/a'], { copyFileRangeSupported: false })).toThrow('copy_file_range not supported on this platform');
  });

  it('getopt errors are GetoptErrors', () => {
    expect(() => parseCombineCommandLine(['-o'])).toThrow(GetoptError);
  });
});

describe('backup_label', () => {
  const label = 'START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nCHECKPOINT LOCATION: 0/4000080\nSTART TIMELINE: 2\nINCREMENTAL FROM LSN: 0/2000028\nINCREMENTAL FROM TLI: 1\nLABEL: x\n';
  it('reads the four lines pg reads', () => {
    expect(parseBackupLabel('f', Buffer.from(label))).toEqual({ startLsn: 0x4000028n, startTli: 2, previousLsn: 0x2000028n, previousTli: 1 });
  });
  it('the combined label drops exactly the INCREMENTAL FROM lines', () => {
    expect(withoutIncrementalLines(Buffer.from(label)).toString()).toBe('START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nCHECKPOINT LOCATION: 0/4000080\nSTART TIMELINE: 2\nLABEL: x\n');
  });
  it.each([
    ['START TIMELINE: 1\n', 'f: could not find START WAL LOCATION'],
    ['START WAL LOCATION: 0/1\n', 'f: improper terminator for START WAL LOCATION'],
    ['START WAL LOCATION: x\n', 'f: could not parse START WAL LOCATION'],
    ['START WAL LOCATION: 0/1 (x)\n', 'f: could not find START TIMELINE'],
    ['START WAL LOCATION: 0/1 (x)\nSTART TIMELINE: 0\n', 'f: invalid TLI'],
    ['START WAL LOCATION: 0/1 (x)\nSTART TIMELINE: 1x\n', 'f: could not parse TLI for START TIMELINE'],
    ['START WAL LOCATION: 0/1 (x)\nSTART TIMELINE: 1\nINCREMENTAL FROM LSN: 0/1\n', 'f: INCREMENTAL FROM LSN requires INCREMENTAL FROM TLI'],
    ['START WAL LOCATION: 0/1 (x)\nSTART TIMELINE: 1\nINCREMENTAL FROM TLI: 1\n', 'f: INCREMENTAL FROM TLI requires INCREMENTAL FROM LSN'],
    ['START WAL LOCATION: 0/1 (x)\nSTART TIMELINE: 1\nINCREMENTAL FROM LSN: 0/1 \nINCREMENTAL FROM TLI: 1\n', 'f: improper terminator for INCREMENTAL FROM LSN'],
  ])('%j: %s', (text, message) => {
    expect(() => parseBackupLabel('f', Buffer.from(text))).toThrow(message);
  });
  it('sscanf\'s leniency: blanks and 0x before the numbers', () => {
    expect(parseBackupLabel('f', Buffer.from('START WAL LOCATION:  0x1/ A (x)\nSTART TIMELINE:  7\n'))).toMatchObject({ startLsn: 0x10000000an, startTli: 7 });
  });
});

describe('pg_control', () => {
  it('17 and 18 layouts, CRC checked', () => {
    for (const version of [1700, 1800]) {
      const buf = controlFile({ version, relsegSize: 7, systemIdentifier: 42n, dataChecksumVersion: 1 });
      expect(decodeControlFile(buf)).toMatchObject({ pgControlVersion: version, relsegSize: 7, blcksz: 8192, systemIdentifier: 42n, dataChecksumVersion: 1, crcOk: true });
      buf[100] ^= 1;
      expect(decodeControlFile(buf).crcOk).toBe(false);
    }
  });
});

describe('tablespace OIDs', () => {
  it.each([['16384', 16384], ['0', undefined], ['4294967296', undefined], ['+5', 5], ['12a', undefined], ['-1', undefined], ['007', 7]])('%s', (s, v) => {
    expect(parseOid(s)).toBe(v);
  });
});

describe('manifest writer', () => {
  it('pg_combinebackup\'s format, byte for byte', () => {
    const dir = tempDir();
    try {
      const w = new ManifestWriter(dir, 7000000000000000001n);
      w.addFile('backup_label', 227, 1733300000, 'CRC32C', '0a0b0c0d');
      w.addFile('pg_wal/000000010000000000000002', 16777216, 1733300001, 'NONE', '');
      w.addFile(Buffer.from([0x61, 0xff]), 1, 0, 'SHA256', 'ab');
      w.finalize([{ timeline: 1, startLsn: 0x2000028n, endLsn: 0x2000100n }, { timeline: 2, startLsn: 0x2000100n, endLsn: 0x3000000n }]);
      const text = readFileSync(join(dir, 'backup_manifest'), 'utf8');
      const body = '{ "PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": 7000000000000000001,\n"Files": [\n'
        + '{ "Path": "backup_label", "Size": 227, "Last-Modified": "2024-12-04 08:13:20 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "0a0b0c0d" },\n'
        + '{ "Path": "pg_wal/000000010000000000000002", "Size": 16777216, "Last-Modified": "2024-12-04 08:13:21 GMT" },\n'
        + '{ "Encoded-Path": "61ff", "Size": 1, "Last-Modified": "1970-01-01 00:00:00 GMT", "Checksum-Algorithm": "SHA256", "Checksum": "ab" }\n'
        + '],\n"WAL-Ranges": [\n{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" },\n{ "Timeline": 2, "Start-LSN": "0/2000100", "End-LSN": "0/3000000" }\n],\n';
      expect(text).toBe(`${body}"Manifest-Checksum": "${manifestChecksumOf(body)}"}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('escapes as pg\'s escape_json', () => {
    expect(escapeJson('a"b\\c\n\t\x01é')).toBe('"a\\"b\\\\c\\n\\t\\u0001é"');
    expect(formatManifestTime(0)).toBe('1970-01-01 00:00:00 GMT');
  });
});

describe('tablespace_map of a tar-format backup', () => {
  it('oid, space, path with backslash escapes', async () => {
    const { parseTablespaceMap } = await import('../../../src/combine/tar-inputs.js');
    expect(parseTablespaceMap('16384 /srv/ts one\n16385 /srv/a\\\nb\\\\c\n')).toEqual([
      { oid: '16384', path: '/srv/ts one' },
      { oid: '16385', path: '/srv/a\nb\\c' },
    ]);
  });
});
