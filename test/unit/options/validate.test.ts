import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { defaultBackupOptions, usesTemporarySlot, type BackupOptions } from '../../../src/options/backup-options.js';
import { validateOptions } from '../../../src/options/validate.js';

/** The options a library user might build without the command line. */
function fails(patch: Partial<BackupOptions>): UsageError | undefined {
  try {
    validateOptions({ ...defaultBackupOptions(), ...patch });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
}

describe('validateOptions on options built in code', () => {
  it('defaults plus a directory are valid', () => {
    expect(fails({ pgdata: '/backup' })).toBeUndefined();
  });

  it('a tar format with a target is refused even without formatSpecified', () => {
    const e = fails({ target: { name: 'blackhole', detail: undefined }, walMethod: 'none', format: 'tar' });
    expect(e?.message).toBe('cannot specify both format and backup target');
    expect(e?.hint).toBe('Try "pg_basebackup --help" for more information.');
  });

  it('the WAL directory is checked in canonical form', () => {
    expect(fails({ pgdata: 'x', walDir: '/w/../..' })).toBeUndefined();
    expect(fails({ pgdata: 'x', walDir: 'w/..' })?.message).toBe('WAL directory location must be an absolute path');
  });

  it('compression: client support is a parameter', () => {
    const o = { ...defaultBackupOptions(), pgdata: 'x', format: 'tar' as const, compression: { location: 'client' as const, algorithm: 'zstd', detail: 'workers=2' } };
    expect(() => validateOptions(o)).toThrow('invalid compression specification: this build does not support compression with ZSTD');
    expect(() => validateOptions(o, () => true)).not.toThrow();
  });

  it('"--create-slot and --no-slot" is unreachable: an earlier check always fires first', () => {
    expect(fails({ pgdata: 'x', createSlot: true, noSlot: true })?.message).toBe('--create-slot needs a slot to be specified using --slot');
    expect(fails({ pgdata: 'x', createSlot: true, noSlot: true, slot: 's' })?.message).toBe('--no-slot cannot be used with slot name');
  });

  it('an empty slot name is still a slot name', () => {
    expect(fails({ pgdata: 'x', slot: '', walMethod: 'fetch' })?.message).toBe('replication slots can only be used with WAL streaming');
  });
});

describe('usesTemporarySlot', () => {
  it('streaming without -S or --no-slot', () => {
    const d = defaultBackupOptions();
    expect(usesTemporarySlot(d)).toBe(true);
    expect(usesTemporarySlot({ ...d, slot: 's' })).toBe(false);
    expect(usesTemporarySlot({ ...d, noSlot: true })).toBe(false);
    expect(usesTemporarySlot({ ...d, walMethod: 'fetch' })).toBe(false);
  });
});
