import { describe, expect, it } from 'vitest';
import { canonicalizePath, isAbsolutePath, isWindowsAbsolutePath } from '../../../src/options/canonicalize-path.js';

describe('canonicalizePath', () => {
  it.each([
    ['/', '/'],
    ['//', '/'],
    ['/a/b/', '/a/b'],
    ['/a//b///c', '/a/b/c'],
    ['/a/./b/.', '/a/b'],
    ['/a/b/..', '/a'],
    ['/a/b/../../..', '/'],
    ['/../a', '/a'],
    ['/a/../../b/./c/..', '/b'],
    ['a/b/../c', 'a/c'],
    ['a/..', '.'],
    ['./', '.'],
    ['.', '.'],
    ['..', '..'],
    ['../..', '../..'],
    ['../a/..', '..'],
    ['a/../..', '..'],
    ['../a/../../b', '../../b'],
    ['', ''],
    ['a\\b', 'a\\b'],
  ])('%j -> %j', (path, canonical) => {
    expect(canonicalizePath(path)).toBe(canonical);
  });
});

describe('absolute paths', () => {
  it('Unix rules', () => {
    expect(['/a', 'a', '\\a', 'C:/a', ''].map(isAbsolutePath)).toEqual([true, false, false, false, false]);
  });
  it('Windows rules', () => {
    expect(['/a', '\\a', 'C:/a', 'c:\\a', 'C:a', '1:/a', 'a'].map(isWindowsAbsolutePath)).toEqual([
      true, true, true, true, false, false, false,
    ]);
  });
});
