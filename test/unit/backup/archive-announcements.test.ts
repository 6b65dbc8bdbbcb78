import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { ArchiveAnnouncements, checkTablespaceList } from '../../../src/backup/archive-announcements.js';
import { atol, atoiTimeline, type TablespaceInfo } from '../../../src/backup/backup-response.js';

const base: TablespaceInfo = { oid: null, location: null, sizeKb: 10n };
const ts = (oid: string, location: string): TablespaceInfo => ({ oid, location, sizeKb: 1n });

describe('checkTablespaceList (issue 10)', () => {
  it('accepts what servers send: absolute locations, 16+ in-place ones, the base directory last', () => {
    expect(() => checkTablespaceList([base])).not.toThrow();
    expect(() => checkTablespaceList([ts('16384', '/srv/ts1'), ts('16385', 'pg_tblspc/16385'), base])).not.toThrow();
  });

  it.each([
    [[ts('16384', '/x')], 'server sent an invalid tablespace list'],
    [[base, ts('16384', '/x')], 'server sent an invalid tablespace list'],
    [[{ oid: '1', location: null, sizeKb: null }, base], 'server sent an invalid tablespace list'],
    [[ts('1a', '/x'), base], 'server sent an invalid tablespace OID "1a"'],
    [[ts('16384', ''), base], 'server sent an invalid location "" for tablespace 16384'],
    [[ts('16384', '../x'), base], 'server sent an invalid location "../x" for tablespace 16384'],
    [[ts('16384', 'pg_tblspc/1'), base], 'server sent an invalid location "pg_tblspc/1" for tablespace 16384'],
    [[ts('16384', '/x'), ts('16385', '/x'), base], 'server listed tablespace 16385 at "/x" twice'],
  ])('refuses list %#', (list, message) => {
    expect(() => checkTablespaceList(list)).toThrow(ProtocolError);
    expect(() => checkTablespaceList(list)).toThrow(message);
  });
});

describe('ArchiveAnnouncements (issue 10)', () => {
  it('accepts each announced archive once, under its name, with a compression suffix', () => {
    const a = new ArchiveAnnouncements([ts('16384', '/srv/ts1'), base]);
    expect(() => a.check('16384.tar.zst', '/srv/ts1')).not.toThrow();
    expect(() => a.check('base.tar.gz', undefined)).not.toThrow();
  });

  it('refuses unannounced locations, other names, second archives', () => {
    const a = new ArchiveAnnouncements([ts('16384', '/srv/ts1'), base]);
    expect(() => a.check('16384.tar', '/etc')).toThrow('server sent archive "16384.tar" for tablespace location "/etc", which is not in its list of tablespaces');
    expect(() => a.check('base.tar', '/srv/ts1')).toThrow('server sent archive "base.tar" for tablespace location "/srv/ts1", expected "16384.tar"');
    expect(() => a.check('16384.tar', undefined)).toThrow('server sent archive "16384.tar" for the main data directory, expected "base.tar"');
    expect(() => a.check('base.tar.bz2', undefined)).toThrow('expected "base.tar"');
    a.check('base.tar', undefined);
    expect(() => a.check('base.tar', undefined)).toThrow('server sent a second archive for the main data directory');
  });
});

describe("server numbers read as pg reads them (finding 6)", () => {
  it('atol: leading spaces, a sign, digits up to the first other character, else 0', () => {
    expect(atol('12abc')).toBe(12n);
    expect(atol('  -7')).toBe(-7n);
    expect(atol('abc')).toBe(0n);
    expect(atol('')).toBe(0n);
    expect(atol('99999999999999999999999')).toBe(2n ** 63n - 1n);
  });

  it('timelines with atoi, as an unsigned 32-bit value', () => {
    expect(atoiTimeline('1')).toBe(1);
    expect(atoiTimeline('3x')).toBe(3);
    expect(atoiTimeline('x')).toBe(0);
    expect(atoiTimeline('-1')).toBe(4294967295);
  });
});
