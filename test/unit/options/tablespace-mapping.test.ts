import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { MAXPGPATH, parseTablespaceMapping } from '../../../src/options/tablespace-mapping.js';

describe('parseTablespaceMapping', () => {
  it.each([
    ['/a=/b', '/a', '/b'],
    ['/a/=/b//c/', '/a', '/b/c'],
    ['/x/../y=/z/./w', '/y', '/z/w'],
    ['/t/tbl\\=spc2=/n/tbl\\=spc2', '/t/tbl=spc2', '/n/tbl=spc2'],
    ['/a\\b=/c', '/a\\b', '/c'],
    ['/a==/b', '/a', '/b'],
    ['C:\\ts=/b', 'C:\\ts', '/b'],
    ['\\\\server\\share=/b', '\\\\server\\share', '/b'],
    ['/é=/ü', '/é', '/ü'],
  ])('%j -> %j = %j', (arg, oldDir, newDir) => {
    expect(parseTablespaceMapping(arg)).toEqual({ oldDir, newDir });
  });

  it.each([
    ['foo', 'invalid tablespace mapping format "foo", must be "OLDDIR=NEWDIR"'],
    ['=/b', 'invalid tablespace mapping format "=/b", must be "OLDDIR=NEWDIR"'],
    ['/a=', 'invalid tablespace mapping format "/a=", must be "OLDDIR=NEWDIR"'],
    ['/a\\=/b', 'invalid tablespace mapping format "/a\\=/b", must be "OLDDIR=NEWDIR"'],
    ['/a\\\\=/b', 'invalid tablespace mapping format "/a\\\\=/b", must be "OLDDIR=NEWDIR"'], // only the last \ escapes
    ['', 'invalid tablespace mapping format "", must be "OLDDIR=NEWDIR"'],
    ['/a=/b=/c', 'multiple "=" signs in tablespace mapping'],
    ['a=/b', 'old directory is not an absolute path in tablespace mapping: a'],
    ['C:a=/b', 'old directory is not an absolute path in tablespace mapping: C:a'],
    ['/a=b', 'new directory is not an absolute path in tablespace mapping: b'],
    ['/a=\\b', 'new directory is not an absolute path in tablespace mapping: \\b'],
  ])('%j fails: %s', (arg, message) => {
    expect(() => parseTablespaceMapping(arg)).toThrow(UsageError);
    expect(() => parseTablespaceMapping(arg)).toThrow(message);
  });

  it('directory names below MAXPGPATH bytes', () => {
    const old1023 = `/${'a'.repeat(MAXPGPATH - 2)}`;
    expect(parseTablespaceMapping(`${old1023}=/b`).oldDir).toHaveLength(MAXPGPATH - 1);
    // the check precedes every character, even the '=' ending a full name
    expect(() => parseTablespaceMapping(`${old1023}x=/b`)).toThrow('directory name too long');
    // bytes, not characters
    expect(() => parseTablespaceMapping(`/${'é'.repeat(512)}=/b`)).toThrow('directory name too long');
    expect(() => parseTablespaceMapping(`/b=/${'a'.repeat(MAXPGPATH)}`)).toThrow('directory name too long');
  });
});
