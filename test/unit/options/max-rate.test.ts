import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { MAX_RATE_LOWER, MAX_RATE_UPPER, parseMaxRate } from '../../../src/options/max-rate.js';

describe('parseMaxRate', () => {
  it.each([
    ['32', 32],
    ['32.9', 32],
    ['100k', 100],
    [' 100 k ', 100],
    ['\t64\n', 64],
    ['2M', 2048],
    ['1024M', 1048576],
    ['1048576', 1048576],
    ['1e3', 1000],
    ['1e3M', 1024000],
    ['0x40', 64],
    ['0x1p5', 32],
    ['+50', 50],
    ['.5M', 512],
  ])('%j -> %d kB/s', (src, kb) => {
    expect(parseMaxRate(src)).toBe(kb);
  });

  it('bounds are the server\'s', () => {
    expect([MAX_RATE_LOWER, MAX_RATE_UPPER]).toEqual([32, 1048576]);
    expect(() => parseMaxRate('1048577')).toThrow('transfer rate "1048577" is out of range');
    expect(() => parseMaxRate('31')).toThrow('transfer rate "31" is out of range');
  });

  it.each([
    ['abc', 'transfer rate "abc" is not a valid value'],
    [' ', 'transfer rate " " is not a valid value'],
    ['M', 'transfer rate "M" is not a valid value'],
    ['-0', 'transfer rate must be greater than zero'],
    ['100 M M', 'invalid --max-rate unit: "M M"'],
    ['100m', 'invalid --max-rate unit: "m"'],
    ['1e', 'invalid --max-rate unit: "e"'],
    ['5000000000', 'transfer rate "5000000000" exceeds integer range'],
    ['4194304M', 'transfer rate "4194304M" exceeds integer range'],
    ['infinity', 'transfer rate "infinity" is out of range'],
    ['1e400', 'invalid transfer rate "1e400": Numerical result out of range'],
  ])('%j fails: %s', (src, message) => {
    expect(() => parseMaxRate(src)).toThrow(UsageError);
    expect(() => parseMaxRate(src)).toThrow(message);
  });
});
