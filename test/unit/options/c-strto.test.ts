import { describe, expect, it } from 'vitest';
import { strtod, strtoint, strtol } from '../../../src/options/c-strto.js';

describe('strtol (base 10)', () => {
  it.each([
    ['42', 42, 2, false],
    ['  -17x', -17, 5, false],
    ['+0', 0, 2, false],
    ['', 0, 0, false],
    ['  ', 0, 0, false],
    ['-', 0, 0, false],
    ['x1', 0, 0, false],
    ['0x10', 0, 1, false],
    ['9223372036854775807', 9223372036854775807, 19, false],
    ['9223372036854775808', 9223372036854775807, 19, true],
    ['-99999999999999999999', -9223372036854775808, 21, true],
  ])('%j -> %d, end %d, ERANGE %s', (s, value, end, erange) => {
    expect(strtol(s)).toMatchObject({ value, end, erange });
  });

  it('keeps the exact long', () => {
    expect(strtol('99999999999999999999').exact).toBe(2n ** 63n - 1n);
  });
});

describe('strtoint', () => {
  it('ERANGE beyond int', () => {
    expect(strtoint('2147483647')).toMatchObject({ value: 2147483647, erange: false });
    expect(strtoint('2147483648')).toMatchObject({ erange: true });
    expect(strtoint('-2147483648')).toMatchObject({ value: -2147483648, erange: false });
  });
});

describe('strtod (C locale)', () => {
  it.each([
    ['1.5', 1.5, 3],
    [' -2e3x', -2000, 5],
    ['1e', 1, 1],
    ['1e+', 1, 1],
    ['.5', 0.5, 2],
    ['5.', 5, 2],
    ['.', 0, 0],
    ['', 0, 0],
    ['0x1.8p1', 3, 7],
    ['0x10', 16, 4],
    ['0xg', 0, 1],
    ['0x', 0, 1],
    ['INF', Infinity, 3],
    ['-Infinity', -Infinity, 9],
    ['infinit', Infinity, 3],
  ])('%j -> %d, end %d', (s, value, end) => {
    const r = strtod(s);
    expect(r.value).toBe(value);
    expect(r.end).toBe(end);
    expect(r.erange).toBe(false);
  });

  it('nan and nan(...)', () => {
    expect(strtod('nan')).toMatchObject({ end: 3, erange: false });
    expect(Number.isNaN(strtod('NaN(123)x').value)).toBe(true);
    expect(strtod('NaN(123)x').end).toBe(8);
    expect(strtod('nan(').end).toBe(3);
  });

  it('ERANGE on overflow and underflow, not on zero', () => {
    expect(strtod('1e999')).toMatchObject({ value: Infinity, erange: true });
    expect(strtod('-1e999')).toMatchObject({ value: -Infinity, erange: true });
    expect(strtod('1e-999')).toMatchObject({ value: 0, erange: true });
    expect(strtod('0e-999')).toMatchObject({ value: 0, erange: false });
    expect(strtod('0x1p-2000').erange).toBe(true);
  });
});
