import { describe, expect, it } from 'vitest';
import { connInfoOptionsOf, libpqMajorFor } from '../../../src/conn/conninfo-options.js';
import { appendConnStrVal, buildRecoveryConnInfo } from '../../../src/conn/recovery-conninfo.js';

describe('appendConnStrVal', () => {
  it.each<[string, string]>([
    ['plain_value.1', 'plain_value.1'],
    ['/var/run/postgresql', "'/var/run/postgresql'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ['with space', "'with space'"],
    ['', "''"],
    ['dé', "'dé'"],
  ])('%j → %s', (value, quoted) => {
    expect(appendConnStrVal(value)).toBe(quoted);
  });
});

describe('buildRecoveryConnInfo', () => {
  const values = new Map([
    ['service', 'svc'],
    ['user', 'u'],
    ['password', 'pw'],
    ['dbname', 'replication'],
    ['replication', 'true'],
    ['fallback_application_name', 'pg_basebackup'],
    ['host', 'h'],
    ['port', '5432'],
    ['options', ''],
    ['sslmode', 'prefer'],
    ['sslnegotiation', 'postgres'],
  ]);

  it('omits replication, dbname, fallback_application_name and empty values', () => {
    expect(buildRecoveryConnInfo(values, 15, { includePassword: true })).toBe('user=u password=pw host=h port=5432 sslmode=prefer');
  });

  it('reports service only from libpq 18 and sslnegotiation only from 17', () => {
    expect(buildRecoveryConnInfo(values, 17, { includePassword: true })).toBe('user=u password=pw host=h port=5432 sslmode=prefer sslnegotiation=postgres');
    expect(buildRecoveryConnInfo(values, 18, { includePassword: false })).toBe('service=svc user=u host=h port=5432 sslmode=prefer sslnegotiation=postgres');
  });

  it('appends an explicit dbname last', () => {
    expect(buildRecoveryConnInfo(values, 15, { includePassword: false, dbname: 'my db' })).toBe("user=u host=h port=5432 sslmode=prefer dbname='my db'");
  });
});

describe('option vocabulary per libpq major', () => {
  it('grows from 15 to 18 in table order', () => {
    const k = (m: 15 | 16 | 17 | 18) => connInfoOptionsOf(m).map((o) => o.keyword);
    expect(k(15)).toHaveLength(36);
    expect(k(16)).toHaveLength(40);
    expect(k(17)).toHaveLength(41);
    expect(k(18)).toHaveLength(50);
    expect(k(16).filter((x) => !k(15).includes(x))).toEqual(['sslcertmode', 'require_auth', 'gssdelegation', 'load_balance_hosts']);
    expect(k(17).indexOf('sslnegotiation')).toBe(k(17).indexOf('sslmode') + 1);
  });

  it('maps server majors outside 15-18 to the nearest vocabulary', () => {
    expect([9, 15, 16, 17, 18, 19].map(libpqMajorFor)).toEqual([15, 15, 16, 17, 18, 18]);
  });
});
