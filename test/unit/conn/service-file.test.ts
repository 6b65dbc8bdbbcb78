import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../src/errors.js';
import type { LibpqEnvironment } from '../../../src/conn/libpq-environment.js';
import { parseServiceFile, parseServiceInfo } from '../../../src/conn/service-file.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgbb-service-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(contents: string): string {
  const f = join(dir, `svc-${n++}.conf`);
  writeFileSync(f, contents);
  return f;
}

function environment(env: NodeJS.ProcessEnv, homeDir?: string): LibpqEnvironment {
  return { env, homeDir, osUser: 'me', defaultSocketDir: '/tmp', sysconfDir: join(dir, 'no-sysconf'), warn: () => undefined };
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectionError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('parseServiceFile', () => {
  const svc = [
    '# comment',
    '[other]',
    'host=other-host',
    '',
    '  [main]  ',
    '  host=main-host  ',
    'port=5433',
    '   # indented comment',
    'application_name= spaced value',
    '[mainly]',
    'host=wrong',
  ].join('\n');

  it('reads only the named section, trimming lines but not around "="', () => {
    const values = new Map<string, string>();
    expect(parseServiceFile(file(svc), 'main', values)).toBe(true);
    expect(Object.fromEntries(values)).toEqual({ host: 'main-host', port: '5433', application_name: ' spaced value' });
  });

  it('does not override values already given', () => {
    const values = new Map([['port', '6000']]);
    parseServiceFile(file(svc), 'main', values);
    expect(values.get('port')).toBe('6000');
    expect(values.get('host')).toBe('main-host');
  });

  it('reports a missing section as not found', () => {
    const values = new Map<string, string>();
    expect(parseServiceFile(file(svc), 'absent', values)).toBe(false);
    expect(values.size).toBe(0);
  });

  it('needs the "]" right after the name', () => {
    expect(parseServiceFile(file('[main ]\nhost=x\n'), 'main', new Map())).toBe(false);
    expect(parseServiceFile(file('[main]trailing\nhost=x\n'), 'main', new Map())).toBe(true);
  });

  it.each<[string, (f: string) => string]>([
    ['[s]\nhost x\n', (f) => `syntax error in service file "${f}", line 2`],
    ['[s]\nhost = x\n', (f) => `syntax error in service file "${f}", line 2`],
    ['[s]\nnosuchoption=1\n', (f) => `syntax error in service file "${f}", line 2`],
    ['#\n[s]\n\nservice=t\n', (f) => `nested service specifications not supported in service file "${f}", line 4`],
    [`[s]\nhost=${'x'.repeat(1020)}\n`, (f) => `line 2 too long in service file "${f}"`],
  ])('rejects %j', (contents, message) => {
    const f = file(contents);
    expect(errorOf(() => parseServiceFile(f, 's', new Map()))).toBe(message(f));
  });

  it('accepts a line just under the fgets() limit', () => {
    const values = new Map<string, string>();
    parseServiceFile(file(`[s]\nhost=${'x'.repeat(1016)}\n`), 's', values);
    expect(values.get('host')).toHaveLength(1016);
  });

  it('only checks syntax inside the wanted section', () => {
    expect(parseServiceFile(file('[other]\ngarbage\n[s]\nport=1\n'), 's', new Map())).toBe(true);
  });

  it('reports an unreadable file', () => {
    const f = join(dir, 'missing.conf');
    expect(errorOf(() => parseServiceFile(f, 's', new Map()))).toBe(`service file "${f}" not found`);
  });
});

describe('parseServiceInfo', () => {
  it('does nothing without a service', () => {
    const values = new Map<string, string>();
    parseServiceInfo(values, environment({}));
    expect(values.size).toBe(0);
  });

  it('uses PGSERVICEFILE, and the service option over PGSERVICE', () => {
    const f = file('[a]\nport=1\n[b]\nport=2\n');
    const values = new Map([['service', 'b']]);
    parseServiceInfo(values, environment({ PGSERVICEFILE: f, PGSERVICE: 'a' }));
    expect(values.get('port')).toBe('2');
    const fromEnv = new Map<string, string>();
    parseServiceInfo(fromEnv, environment({ PGSERVICEFILE: f, PGSERVICE: 'a' }));
    expect(fromEnv.get('port')).toBe('1');
  });

  it('uses ~/.pg_service.conf, then the system file; the first file with the service wins', () => {
    const home = join(dir, 'home');
    const sysconf = join(dir, 'sysconf');
    mkdirSync(home);
    mkdirSync(sysconf);
    writeFileSync(join(home, '.pg_service.conf'), '[user]\nport=11\n[both]\nport=12\n');
    writeFileSync(join(sysconf, 'pg_service.conf'), '[sys]\nport=21\n[both]\nport=22\nhost=sys-host\n');
    const get = (service: string) => {
      const values = new Map([['service', service]]);
      parseServiceInfo(values, environment({ PGSYSCONFDIR: sysconf }, home));
      return Object.fromEntries(values);
    };
    expect(get('user')).toEqual({ service: 'user', port: '11' });
    expect(get('sys')).toEqual({ service: 'sys', port: '21' });
    // the user file defines "both": the system file is not read at all
    expect(get('both')).toEqual({ service: 'both', port: '12' });
    expect(errorOf(() => get('none'))).toBe('definition of service "none" not found');
  });

  it('fails when PGSERVICEFILE does not exist', () => {
    const f = join(dir, 'nope.conf');
    expect(errorOf(() => parseServiceInfo(new Map([['service', 'x']]), environment({ PGSERVICEFILE: f })))).toBe(`service file "${f}" not found`);
  });
});
