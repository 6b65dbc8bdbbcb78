import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchPgpassField, passwordFromFile, type PasswordLookup } from '../../../src/conn/pgpass.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgbb-pgpass-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function passFile(contents: string, mode = 0o600): string {
  const f = join(dir, `pgpass-${n++}`);
  writeFileSync(f, contents);
  chmodSync(f, mode);
  return f;
}

function lookup(file: string, over: Partial<PasswordLookup> = {}, warnings: string[] = []): string | undefined {
  return passwordFromFile({
    hostname: 'db.example',
    port: '5432',
    dbname: 'replication',
    user: 'rep',
    passFile: file,
    defaultSocketDir: '/var/run/postgresql',
    warn: (m) => warnings.push(m),
    ...over,
  });
}

describe('field matching (pwdfMatchesString)', () => {
  it.each<[string, string, string | undefined]>([
    ['host:rest', 'host', 'rest'],
    ['*:rest', 'anything', 'rest'],
    ['*x:rest', '*x', 'rest'],
    ['*x:rest', 'ax', undefined],
    ['ho\\:st:rest', 'ho:st', 'rest'],
    ['a\\\\b:rest', 'a\\b', 'rest'],
    ['hostname:rest', 'host', undefined],
    ['host:rest', 'hostname', undefined],
    ['host', 'host', undefined],
    ['host\\', 'host', undefined],
    [':rest', '', 'rest'],
  ])('%j against %j', (line, token, rest) => {
    expect(matchPgpassField(line, token)).toBe(rest);
  });
});

describe('passwordFromFile', () => {
  it('takes the first matching line and skips comments', () => {
    const f = passFile(['# db.example:5432:replication:rep:commented', 'other:5432:*:rep:no', 'db.example:5432:replication:rep:first', '*:*:*:*:second', ''].join('\n'));
    expect(lookup(f)).toBe('first');
  });

  it('matches "replication" as the database of physical replication connections', () => {
    const f = passFile('db.example:5432:postgres:rep:pg\ndb.example:5432:replication:rep:repl\n');
    expect(lookup(f)).toBe('repl');
    expect(lookup(f, { dbname: 'postgres' })).toBe('pg');
  });

  it('honours wildcards per field', () => {
    const f = passFile('*:5433:*:rep:wild\n');
    expect(lookup(f)).toBeUndefined();
    expect(lookup(f, { port: '5433' })).toBe('wild');
  });

  it('compares the port as text and defaults it to 5432', () => {
    const f = passFile('db.example:05432:*:*:padded\ndb.example:5432:*:*:plain\n');
    expect(lookup(f, { port: '05432' })).toBe('padded');
    expect(lookup(f, { port: '' })).toBe('plain');
    expect(lookup(f, { port: undefined })).toBe('plain');
  });

  it('un-escapes the password and stops at the first unescaped colon', () => {
    const f = passFile('db.example:5432:*:rep:pa\\:ss\\\\word:ignored\n');
    expect(lookup(f)).toBe('pa:ss\\word');
  });

  it('matches escaped colons in fields', () => {
    const f = passFile('fe80\\:\\:1:5432:*:rep:v6\n');
    expect(lookup(f, { hostname: 'fe80::1' })).toBe('v6');
  });

  it('matches "localhost" for the default socket directory and an empty host, not for other directories', () => {
    const f = passFile('localhost:5432:*:rep:local\n');
    expect(lookup(f, { hostname: '/var/run/postgresql' })).toBe('local');
    expect(lookup(f, { hostname: '' })).toBe('local');
    expect(lookup(f, { hostname: undefined })).toBe('local');
    expect(lookup(f, { hostname: '/tmp' })).toBeUndefined();
  });

  it('matches a socket directory literally', () => {
    const f = passFile('/tmp/sock:5432:*:rep:sock\n');
    expect(lookup(f, { hostname: '/tmp/sock' })).toBe('sock');
  });

  it('strips carriage returns (CRLF files)', () => {
    const f = passFile('db.example:5432:*:rep:crlf\r\n');
    expect(lookup(f)).toBe('crlf');
  });

  it('does not treat an indented # as a comment', () => {
    const f = passFile(' #x:5432:*:rep:a\n#db.example:5432:*:rep:b\n');
    expect(lookup(f, { hostname: ' #x' })).toBe('a');
    expect(lookup(f, { hostname: '#db.example' })).toBeUndefined();
  });

  it('needs a database and a user', () => {
    const f = passFile('*:*:*:*:any\n');
    expect(lookup(f)).toBe('any');
    expect(lookup(f, { dbname: '' })).toBeUndefined();
    expect(lookup(f, { user: '' })).toBeUndefined();
  });

  it('warns about and ignores a file with group or world access', () => {
    const warnings: string[] = [];
    const f = passFile('*:*:*:*:open\n', 0o640);
    expect(lookup(f, {}, warnings)).toBeUndefined();
    expect(warnings).toEqual([`WARNING: password file "${f}" has group or world access; permissions should be u=rw (0600) or less`]);
  });

  it('warns about and ignores something that is not a plain file', () => {
    const warnings: string[] = [];
    const d = join(dir, 'a-directory');
    mkdirSync(d);
    expect(lookup(d, {}, warnings)).toBeUndefined();
    expect(warnings).toEqual([`WARNING: password file "${d}" is not a plain file`]);
  });

  it('silently ignores a missing file', () => {
    const warnings: string[] = [];
    expect(lookup(join(dir, 'missing'), {}, warnings)).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});
