import { describe, expect, it } from 'vitest';
import { GetoptError, GetoptLong, type GetoptItem, type GetoptSettings, type LongOption } from '../../../src/cli/getopt.js';
import { UsageError } from '../../../src/errors.js';

const SHORT = 'ab:c::D:v';
const LONG: LongOption[] = [
  { name: 'alpha', hasArg: 'none', val: 'a' },
  { name: 'bravo', hasArg: 'required', val: 'b' },
  { name: 'charlie', hasArg: 'optional', val: 'c' },
  { name: 'no', hasArg: 'none', val: 1 },
  { name: 'no-clean', hasArg: 'none', val: 2 },
  { name: 'no-sync', hasArg: 'none', val: 3 },
  { name: 'verbose', hasArg: 'none', val: 'v' },
  { name: 'verbatim', hasArg: 'none', val: 'v' }, // same as verbose: abbreviations of both are not ambiguous
];

function parse(argv: string[], settings: GetoptSettings = {}): { items: Array<[string | number, string | undefined]>; operands: readonly string[] } {
  const g = new GetoptLong(argv, SHORT, LONG, { progname: 'prog', ...settings });
  const items: Array<[string | number, string | undefined]> = [];
  for (let it: GetoptItem | undefined = g.next(); it !== undefined; it = g.next()) items.push([it.val, it.arg]);
  expect(g.next()).toBeUndefined();
  return { items, operands: g.operands };
}

function failure(argv: string[], settings: GetoptSettings = {}): string {
  try {
    parse(argv, settings);
  } catch (err) {
    expect(err).toBeInstanceOf(GetoptError);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as GetoptError).hint).toBe('Try "pg_basebackup --help" for more information.');
    return (err as GetoptError).message;
  }
  throw new Error('expected a GetoptError');
}

describe('GetoptLong: short options', () => {
  it('clusters, attached and separate values', () => {
    expect(parse(['-av', '-bX', '-b', 'Y', '-abZ', '-Dv']).items).toEqual([
      ['a', undefined], ['v', undefined], ['b', 'X'], ['b', 'Y'], ['a', undefined], ['b', 'Z'], ['D', 'v'],
    ]);
  });

  it('a separate value is taken whatever it looks like', () => {
    expect(parse(['-b', '-a', '-D', '-', '-b', '--']).items).toEqual([['b', '-a'], ['D', '-'], ['b', '--']]);
  });

  it('optional values only when attached', () => {
    expect(parse(['-cX', '-c', 'Y']).items).toEqual([['c', 'X'], ['c', undefined]]);
    expect(parse(['-cX', '-c', 'Y']).operands).toEqual(['Y']);
  });

  it('errors', () => {
    expect(failure(['-x'])).toBe("prog: invalid option -- 'x'");
    expect(failure(['-ax'])).toBe("prog: invalid option -- 'x'");
    expect(failure(['-:'])).toBe("prog: invalid option -- ':'");
    expect(failure(['-b'])).toBe("prog: option requires an argument -- 'b'");
    expect(failure(['-ab'])).toBe("prog: option requires an argument -- 'b'");
  });
});

describe('GetoptLong: long options', () => {
  it('--name=value, --name value, empty values', () => {
    expect(parse(['--bravo=1', '--bravo', '2', '--bravo=', '--bravo', '']).items).toEqual([
      ['b', '1'], ['b', '2'], ['b', ''], ['b', ''],
    ]);
  });

  it('unique abbreviations, and exact names that are prefixes of others', () => {
    expect(parse(['--al', '--br=x', '--no', '--no-c', '--no-s', '--verb']).items).toEqual([
      ['a', undefined], ['b', 'x'], [1, undefined], [2, undefined], [3, undefined], ['v', undefined],
    ]);
  });

  it('optional values only after =', () => {
    expect(parse(['--charlie=x', '--charlie', 'y']).items).toEqual([['c', 'x'], ['c', undefined]]);
  });

  it('longIndex is the table position', () => {
    const g = new GetoptLong(['--no-s'], SHORT, LONG);
    expect(g.next()?.longIndex).toBe(5);
  });

  it('errors name the option as glibc does', () => {
    expect(failure(['--no-'])).toBe("prog: option '--no-' is ambiguous; possibilities: '--no-clean' '--no-sync'");
    expect(failure(['--n=1'])).toBe("prog: option '--n=1' is ambiguous; possibilities: '--no' '--no-clean' '--no-sync'");
    expect(failure(['--zulu=1'])).toBe("prog: unrecognized option '--zulu=1'");
    expect(failure(['--al=1'])).toBe("prog: option '--alpha' doesn't allow an argument");
    expect(failure(['--br'])).toBe("prog: option '--bravo' requires an argument");
  });

  it('entries differing only by name are one candidate', () => {
    expect(parse(['--verba']).items).toEqual([['v', undefined]]);
    expect(parse(['--ver']).items).toEqual([['v', undefined]]);
  });
});

describe('GetoptLong: permutation and --', () => {
  it('non-options are set aside in order, options after them still parsed', () => {
    const r = parse(['one', '-a', 'two', '-b', 'three', 'four', '-', '--alpha']);
    expect(r.items).toEqual([['a', undefined], ['b', 'three'], ['a', undefined]]);
    expect(r.operands).toEqual(['one', 'two', 'four', '-']);
  });

  it('-- ends the options; what follows is operands, after the earlier ones', () => {
    const r = parse(['one', '-a', '--', '-b', '--', 'two']);
    expect(r.items).toEqual([['a', undefined]]);
    expect(r.operands).toEqual(['one', '-b', '--', 'two']);
  });

  it('require order (POSIXLY_CORRECT) stops at the first non-option', () => {
    const r = parse(['-a', 'one', '-x', '--', 'two'], { posixlyCorrect: true });
    expect(r.items).toEqual([['a', undefined]]);
    expect(r.operands).toEqual(['one', '-x', '--', 'two']);
    expect(parse(['-a', '--', '-b'], { posixlyCorrect: true }).operands).toEqual(['-b']);
  });

  it('a leading + in the option string also means require order', () => {
    const g = new GetoptLong(['x', '-a'], `+${SHORT}`, LONG);
    expect(g.next()).toBeUndefined();
    expect(g.operands).toEqual(['x', '-a']);
  });

  it('no arguments at all', () => {
    expect(parse([])).toEqual({ items: [], operands: [] });
  });

  it('after an error it stays finished', () => {
    const g = new GetoptLong(['-x', '-a'], SHORT, LONG);
    expect(() => g.next()).toThrow(GetoptError);
    expect(g.next()).toBeUndefined();
  });
});
