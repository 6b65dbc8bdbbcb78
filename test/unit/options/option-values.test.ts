import { describe, expect, it } from 'vitest';
import {
  MAX_STATUS_INTERVAL,
  optionParseInt,
  parseBackupTarget,
  parseCheckpoint,
  parseFormat,
  parseStatusInterval,
  parseSyncMethod,
  parseWalMethod,
} from '../../../src/options/option-values.js';

describe('single option values', () => {
  it('-F', () => {
    expect(['p', 'plain', 't', 'tar'].map(parseFormat)).toEqual(['plain', 'plain', 'tar', 'tar']);
    expect(() => parseFormat('Plain')).toThrow('invalid output format "Plain", must be "plain" or "tar"');
    expect(() => parseFormat('')).toThrow('invalid output format "", must be "plain" or "tar"');
  });

  it('-X', () => {
    expect(['n', 'none', 'f', 'fetch', 's', 'stream'].map(parseWalMethod)).toEqual(['none', 'none', 'fetch', 'fetch', 'stream', 'stream']);
    expect(() => parseWalMethod('streaming')).toThrow('invalid wal-method option "streaming", must be "fetch", "stream", or "none"');
  });

  it('-c, ASCII case-insensitive', () => {
    expect(['fast', 'FAST', 'Spread', 'spread'].map(parseCheckpoint)).toEqual(['fast', 'fast', 'spread', 'spread']);
    expect(() => parseCheckpoint('f')).toThrow('invalid checkpoint argument "f", must be "fast" or "spread"');
    expect(() => parseCheckpoint('faſt')).toThrow('invalid checkpoint argument "faſt"'); // no Unicode case folding
  });

  it('-s', () => {
    expect(MAX_STATUS_INTERVAL).toBe(2147483);
    expect(parseStatusInterval('2147483')).toBe(2147483);
    expect(() => parseStatusInterval('2147484')).toThrow('-s/--status-interval must be in range 0..2147483');
    expect(parseStatusInterval('\t7\n')).toBe(7);
    expect(() => parseStatusInterval('7 x')).toThrow('invalid value "7 x" for option -s/--status-interval');
    expect(() => parseStatusInterval('1.5')).toThrow('invalid value "1.5" for option -s/--status-interval');
    expect(() => parseStatusInterval('-')).toThrow('invalid value "-" for option -s/--status-interval');
  });

  it('option_parse_int reports ERANGE as a range error', () => {
    expect(() => optionParseInt('4294967296', '-x', -10, 10)).toThrow('-x must be in range -10..10');
    expect(optionParseInt('-10', '-x', -10, 10)).toBe(-10);
  });

  it('--sync-method', () => {
    expect(parseSyncMethod('fsync', false)).toBe('fsync');
    expect(parseSyncMethod('syncfs', true)).toBe('syncfs');
    expect(() => parseSyncMethod('syncfs', false)).toThrow('this build does not support sync method "syncfs"');
    expect(() => parseSyncMethod('FSYNC', true)).toThrow('unrecognized sync method: FSYNC');
  });

  it('-t', () => {
    expect(parseBackupTarget('client')).toBeUndefined();
    expect(parseBackupTarget('client:x')).toEqual({ name: 'client', detail: 'x' });
    expect(parseBackupTarget('server:/a:b')).toEqual({ name: 'server', detail: '/a:b' });
    expect(parseBackupTarget('server:')).toEqual({ name: 'server', detail: '' });
    expect(parseBackupTarget('blackhole')).toEqual({ name: 'blackhole', detail: undefined });
    expect(parseBackupTarget('')).toEqual({ name: '', detail: undefined });
  });
});
