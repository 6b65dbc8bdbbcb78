/**
 * Issue 10: a hostile walsender (test/support/hostile-server.ts) sends archives that try to write
 * outside the target, lie about sizes and frames, or break off.  For each case: exit 1, a pg-style
 * "pg_basebackup: error: ..." line, no stack trace, nothing changed outside the target directories
 * (a digest of a sandbox around them, before and after), and the target removed (or emptied again).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/pg-cluster.js';
import { clientEnv, runBasebackup, type RunResult } from '../support/backup-helpers.js';
import {
  BASE_ROW,
  baseMembers,
  copy,
  HostileServer,
  MANIFEST,
  msg,
  normalCopyStream,
  normalEnding,
  resultSet,
  tar,
  tarHeader,
  treeDigest,
  type Member,
  type Script,
} from '../support/hostile-server.js';

let server: HostileServer;
let root: string;
let n = 0;

beforeAll(async () => {
  server = await HostileServer.start();
  root = makeTempDir('pgbb-hostile-sandbox-');
});
afterAll(async () => {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

interface Sandbox {
  dir: string;
  target: string;
  /** A tablespace target (-T OLD=NEW), inside the sandbox. */
  ts: string;
  outside: string;
  victim: string;
}

function sandbox(): Sandbox {
  const dir = join(root, `case${++n}`);
  const outside = join(dir, 'outside');
  mkdirSync(outside, { recursive: true });
  const victim = join(outside, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  return { dir, target: join(dir, 'target'), ts: join(dir, 'ts'), outside, victim };
}

/** Run against `script`; check everything the issue asks of a refused archive; return the result. */
async function refused(script: Script, args: string[], sb = sandbox(), opts: { emptyTarget?: boolean } = {}): Promise<RunResult> {
  if (opts.emptyTarget) mkdirSync(sb.target);
  const before = treeDigest(sb.dir, [sb.target, sb.ts]);
  server.script = script;
  const r = await runBasebackup([...server.args(), '-D', sb.target, '--no-status-file', ...args], { env: clientEnv(root), timeoutMs: 30_000 });
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/^pg_basebackup: error: /m);
  expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
  expect(r.stderr).not.toMatch(/TypeError|RangeError|SyntaxError|node:internal|Cannot convert/);
  expect(treeDigest(sb.dir, [sb.target, sb.ts])).toBe(before);
  if (opts.emptyTarget) expect(readdirSync(sb.target)).toEqual([]);
  else expect(existsSync(sb.target)).toBe(false);
  expect(existsSync(sb.ts)).toBe(false);
  return r;
}

const errorLine = (r: RunResult) => r.stderr.split('\n').find((l) => l.startsWith('pg_basebackup: error: ')) ?? '';
const withBase = (extra: Member[], before = true): Buffer[] => [
  copy.archive('base.tar'),
  copy.data(tar(before ? [...extra, ...baseMembers()] : [...baseMembers(), ...extra])),
  copy.manifest(),
  copy.data(Buffer.from(MANIFEST)),
];

describe('the hostile server double itself', () => {
  it('an honest script gives a backup (exit 0), plain and tar', async () => {
    for (const format of ['-Fp', '-Ft']) {
      const sb = sandbox();
      server.script = {};
      const r = await runBasebackup([...server.args(), '-D', sb.target, '--no-status-file', format, '-X', 'none'], { env: clientEnv(root), timeoutMs: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(sb.target).sort()).toEqual(format === '-Fp' ? ['PG_VERSION', 'backup_label', 'backup_manifest', 'global', 'pg_wal'] : ['backup_manifest', 'base.tar']);
    }
  });
});

describe('finding 1: files the client writes are never written through what an archive left', () => {
  it('a symlink member named backup_manifest.tmp pointing outside (-Fp -X none)', async () => {
    const sb = sandbox();
    const r = await refused({ copyStream: withBase([{ name: 'backup_manifest.tmp', type: 'symlink', linkTarget: sb.victim }]) }, ['-Fp', '-X', 'none'], sb);
    // pg's tar headers give symlinks a trailing slash, as this one has.
    expect(errorLine(r)).toBe('pg_basebackup: error: tar member "backup_manifest.tmp/" would collide with a file pg_basebackup writes itself');
  });

  it('a member named backup_manifest', async () => {
    const r = await refused({ copyStream: withBase([{ name: 'backup_manifest', data: 'x' }]) }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toContain('"backup_manifest" would collide');
  });

  it('-Ft: an archive named like a file the client writes (backup_manifest.tmp, pg_wal.tar)', async () => {
    for (const name of ['backup_manifest.tmp', 'pg_wal.tar', '../base.tar']) {
      const r = await refused({ copyStream: [copy.archive(name), copy.data(tar(baseMembers()))] }, ['-Ft', '-X', 'none']);
      expect(errorLine(r)).toMatch(/invalid archive name|expected "base.tar"/);
    }
  });

  it('-R: postgresql.auto.conf or standby.signal as a symlink pointing outside', async () => {
    for (const name of ['postgresql.auto.conf', 'standby.signal']) {
      const sb = sandbox();
      const r = await refused({ copyStream: withBase([{ name, type: 'symlink', linkTarget: sb.victim }]) }, ['-Fp', '-X', 'none', '-R'], sb);
      expect(errorLine(r)).toBe(`pg_basebackup: error: tar member "${name}" is not a regular file`);
    }
  });
});

describe('escaping names', () => {
  it('a name with ".."', async () => {
    const r = await refused({ copyStream: withBase([{ name: '../outside/evil', data: 'x' }]) }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: tar member "../outside/evil" would be written outside the target directory');
  });

  it('an absolute name', async () => {
    const sb = sandbox();
    const r = await refused({ copyStream: withBase([{ name: join(sb.outside, 'evil'), data: 'x' }]) }, ['-Fp', '-X', 'none'], sb);
    expect(errorLine(r)).toContain('would be written outside the target directory');
  });

  it('a NUL inside the name field, with more after it', async () => {
    const raw = Buffer.concat([Buffer.from('PG_VERSION\0../../outside/evil')]);
    const r = await refused({ copyStream: withBase([{ name: 'x', rawName: raw, data: 'x' }]) }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: tar member name "PG_VERSION" has more bytes after its terminating NUL');
  });

  it('a symlink, then a file through it', async () => {
    const sb = sandbox();
    const r = await refused({ copyStream: withBase([{ name: 'link', type: 'symlink', linkTarget: sb.outside }, { name: 'link/victim', data: 'pwned' }]) }, ['-Fp', '-X', 'none'], sb);
    expect(errorLine(r)).toContain('tar member "link/victim" would be written through symbolic link');
  });

  it('a symlink to the root, then a file through it', async () => {
    const sb = sandbox();
    const r = await refused({ copyStream: withBase([{ name: 'root', type: 'symlink', linkTarget: '/' }, { name: `root${sb.victim}`, data: 'pwned' }]) }, ['-Fp', '-X', 'none'], sb);
    expect(errorLine(r)).toContain('would be written through symbolic link');
  });

  it('a hard link to a file outside', async () => {
    const sb = sandbox();
    const r = await refused({ copyStream: withBase([{ name: 'hl', typeflag: '1', linkTarget: sb.victim }]) }, ['-Fp', '-X', 'none'], sb);
    expect(errorLine(r)).toBe('pg_basebackup: error: tar member "hl" is a hard link, which a server never sends');
  });

  it('a device node', async () => {
    const r = await refused({ copyStream: withBase([{ name: 'dev', typeflag: '3' }]) }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toContain('is a character device');
  });

  it('an existing, empty target is emptied again', async () => {
    await refused({ copyStream: withBase([{ name: '../escape', data: 'x' }], false) }, ['-Fp', '-X', 'none'], sandbox(), { emptyTarget: true });
  });
});

describe('finding 2: tablespaces the server did not announce, or elsewhere', () => {
  const tsRow = (oid: string, loc: string) => [oid, loc, '10'];

  it('an unannounced tablespace archive (plain): nothing written there', async () => {
    const sb = sandbox();
    const r = await refused(
      { copyStream: [copy.archive('16384.tar', sb.outside), copy.data(tar([{ name: 'victim', data: 'pwned' }])), ...withBase([])] },
      ['-Fp', '-X', 'none'],
      sb,
    );
    expect(errorLine(r)).toBe(`pg_basebackup: error: server sent archive "16384.tar" for tablespace location "${sb.outside}", which is not in its list of tablespaces`);
  });

  it('an announced tablespace sent at another location', async () => {
    const sb = sandbox();
    const loc = join(sb.dir, 'announced');
    const r = await refused(
      {
        tablespaces: [tsRow('16384', loc), BASE_ROW],
        copyStream: [copy.archive('16384.tar', sb.outside), copy.data(tar([{ name: 'victim', data: 'pwned' }])), ...withBase([])],
      },
      ['-Fp', '-X', 'none', '-T', `${loc}=${sb.ts}`],
      sb,
    );
    expect(errorLine(r)).toContain('which is not in its list of tablespaces');
  });

  it('an announced tablespace under another archive name, or twice', async () => {
    const sb = sandbox();
    const loc = join(sb.dir, 'announced');
    const tablespaces = [tsRow('16384', loc), BASE_ROW];
    const t = tar([{ name: 'PG_15_202209061', type: 'directory' }]);
    let r = await refused({ tablespaces, copyStream: [copy.archive('99999.tar', loc), copy.data(t), ...withBase([])] }, ['-Fp', '-X', 'none', '-T', `${loc}=${sb.ts}`], sb);
    expect(errorLine(r)).toContain('expected "16384.tar"');
    r = await refused(
      { tablespaces, copyStream: [copy.archive('16384.tar', loc), copy.data(t), copy.archive('16384.tar', loc), copy.data(t), ...withBase([])] },
      ['-Fp', '-X', 'none', '-T', `${loc}=${sb.ts}`],
      sb,
    );
    expect(errorLine(r)).toBe(`pg_basebackup: error: server sent a second archive for tablespace location "${loc}"`);
  });

  it('relative tablespace locations other than pg_tblspc/<oid>', async () => {
    for (const loc of ['../outside', 'pg_wal', 'pg_tblspc/1/../../..', 'pg_tblspc/16385']) {
      const r = await refused({ tablespaces: [tsRow('16384', loc), BASE_ROW] }, ['-Fp', '-X', 'none']);
      expect(errorLine(r)).toBe(`pg_basebackup: error: server sent an invalid location "${loc}" for tablespace 16384`);
    }
  });

  it('an in-place tablespace archive that was not announced', async () => {
    const r = await refused({ copyStream: [copy.archive('16384.tar', 'pg_tblspc/16384'), copy.data(tar([{ name: 'x', data: 'x' }])), ...withBase([])] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toContain('which is not in its list of tablespaces');
  });

  it('a tablespace list without the main data directory, or with a bad OID', async () => {
    let r = await refused({ tablespaces: [tsRow('16384', '/x')] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: server sent an invalid tablespace list');
    r = await refused({ tablespaces: [tsRow('1/../x', '/x'), BASE_ROW] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: server sent an invalid tablespace OID "1/../x"');
  });
});

describe('sizes and frames that lie, unknown messages, truncated streams', () => {
  it('finding 5: a tar header with a wrong checksum names the member', async () => {
    const r = await refused({ copyStream: withBase([{ name: 'PG_VERSION', data: '15\n', badChecksum: true }]) }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: invalid tar header checksum in member "PG_VERSION"');
  });

  it('a member size larger than its data: the next header is garbage', async () => {
    const body = Buffer.concat([tarHeader({ name: 'big', data: 'x', claimedSize: 1024 }), Buffer.from('x'), Buffer.alloc(511), tar(baseMembers())]);
    await refused({ copyStream: [copy.archive('base.tar'), copy.data(body), copy.manifest(), copy.data(Buffer.from(MANIFEST))] }, ['-Fp', '-X', 'none']);
  });

  it('a member size smaller than its data: the rest is read as a header', async () => {
    const body = Buffer.concat([tarHeader({ name: 'small', data: 'x', claimedSize: 1 }), Buffer.alloc(2048, 0x41), tar(baseMembers())]);
    const r = await refused({ copyStream: [copy.archive('base.tar'), copy.data(body)] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toContain('invalid tar header checksum');
  });

  it('an archive that ends inside a member', async () => {
    const body = tar([{ name: 'cut', data: Buffer.alloc(4096, 1) }], { unterminated: true }).subarray(0, 2000);
    const r = await refused({ copyStream: [copy.archive('base.tar'), copy.data(body), copy.manifest(), copy.data(Buffer.from(MANIFEST))] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: COPY stream ended before last file was finished');
  });

  it('a tablespace size that is not a number is read like atol (finding 6): exit 0', async () => {
    const sb = sandbox();
    server.script = { tablespaces: [[null, null, '12abc']] };
    const r = await runBasebackup([...server.args(), '-D', sb.target, '--no-status-file', '-Fp', '-X', 'none', '-P'], { env: clientEnv(root), timeoutMs: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('/12 kB (');
    expect(r.stderr).not.toContain('BigInt');
  });

  it('frames that lie: a length below 4, a huge length then the end, a short message over 30000 bytes', async () => {
    const lie = (type: string, len: number) => {
      const b = Buffer.alloc(5);
      b.write(type, 0, 'latin1');
      b.writeInt32BE(len, 1);
      return b;
    };
    let r = await refused({ copyStream: [copy.archive('base.tar'), lie('d', 2)] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: lost synchronization with server: got message type "d", length 2');
    r = await refused({ copyStream: [copy.archive('base.tar'), lie('d', 0x3ffffff0), Buffer.alloc(100)], ending: [], after: 'close' }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toMatch(/server closed the connection unexpectedly|could not receive data from server|connection/);
    r = await refused({ copyStream: [copy.archive('base.tar'), lie('S', 40000)] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: lost synchronization with server: got message type "S", length 40000');
  });

  it("malformed COPY messages: 'n' without its NULs, 'p' too short, an unknown type", async () => {
    let r = await refused({ copyStream: [msg.copyData(Buffer.from('nbase.tar'))] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: malformed COPY message of type 110, length 9');
    r = await refused({ copyStream: [copy.archive('base.tar'), msg.copyData(Buffer.from('p\x01\x02'))] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: malformed COPY message of type 112, length 3');
    r = await refused({ copyStream: [copy.archive('base.tar'), msg.copyData(Buffer.from('zzz'))] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: malformed COPY message of type 122, length 3');
  });

  it('a second base archive', async () => {
    const r = await refused({ copyStream: [copy.archive('base.tar'), copy.data(tar(baseMembers())), ...withBase([])] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: server sent a second archive for the main data directory');
  });

  it('the connection closes mid-archive (truncated stream), plain and tar', async () => {
    for (const format of ['-Fp', '-Ft']) {
      const half = tar(baseMembers()).subarray(0, 3000);
      const r = await refused({ copyStream: [copy.archive('base.tar'), copy.data(half)], ending: [], after: 'close' }, [format, '-X', 'none']);
      expect(errorLine(r)).toMatch(/server closed the connection unexpectedly|could not (receive|read)/);
    }
  });
});

describe('finding 3: errors with and without ReadyForQuery', () => {
  for (const format of ['-Fp', '-Ft']) {
    it(`${format}: an error mid-archive followed by ReadyForQuery`, async () => {
      const r = await refused(
        { copyStream: [copy.archive('base.tar'), copy.data(tar(baseMembers()).subarray(0, 2048))], ending: [msg.error('could not read file "base/1/1": Input/output error'), msg.readyForQuery()] },
        [format, '-X', 'none'],
      );
      expect(errorLine(r)).toBe('pg_basebackup: error: could not read COPY data: ERROR:  could not read file "base/1/1": Input/output error');
    });

    it(`${format}: an error mid-archive with no ReadyForQuery, the connection left open, is reported at once`, async () => {
      const r = await refused(
        { copyStream: [copy.archive('base.tar'), copy.data(tar(baseMembers()).subarray(0, 2048))], ending: [msg.error('out of disk space')], after: 'hold' },
        [format, '-X', 'none'],
      );
      expect(errorLine(r)).toBe('pg_basebackup: error: could not read COPY data: ERROR:  out of disk space');
    });
  }

  it('an error instead of the start position, with no ReadyForQuery (during the checkpoint)', async () => {
    const r = await refused({ rawResponse: [msg.error('checkpoint failed')] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: could not initiate base backup: ERROR:  checkpoint failed');
  });

  it('an error after the archives, before the end position, with no ReadyForQuery', async () => {
    const r = await refused({ copyStream: normalCopyStream(), ending: [msg.copyDone(), msg.error('WAL archive failed')] }, ['-Fp', '-X', 'none']);
    expect(errorLine(r)).toBe('pg_basebackup: error: backup failed: ERROR:  WAL archive failed');
  });

  it('a FATAL then the connection closes', async () => {
    const r = await refused(
      { copyStream: [copy.archive('base.tar')], ending: [msg.error('terminating connection due to administrator command', '57P01', 'FATAL')], after: 'close' },
      ['-Fp', '-X', 'none'],
    );
    expect(errorLine(r)).toContain('FATAL:  terminating connection due to administrator command');
  });
});

describe('the end of the response', () => {
  it('a response that ends normally after a clean archive still succeeds with -R (regular files)', async () => {
    const sb = sandbox();
    server.script = { copyStream: withBase([{ name: 'postgresql.auto.conf', data: '# auto\n' }]), ending: normalEnding() };
    const r = await runBasebackup([...server.args(), '-D', sb.target, '--no-status-file', '-Fp', '-X', 'none', '-R'], { env: clientEnv(root), timeoutMs: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(sb.target, 'standby.signal'))).toBe(true);
  });

  it('an end position result set that lies (two rows)', async () => {
    const r = await refused(
      { copyStream: normalCopyStream(), ending: [msg.copyDone(), resultSet(['recptr', 'tli'], [['0/1', '1'], ['0/2', '1']]), msg.commandComplete('BASE_BACKUP'), msg.readyForQuery()] },
      ['-Fp', '-X', 'none'],
    );
    expect(errorLine(r)).toBe('pg_basebackup: error: no write-ahead log end position returned from server');
  });
});

describe('a symlink already in the target directory is not followed by the client', () => {
  it('-Ft into an empty directory holding nothing: base.tar is created new (O_EXCL)', async () => {
    // The directory must be empty to be used at all; the client's own files are then always new.
    const sb = sandbox();
    mkdirSync(sb.target);
    symlinkSync(sb.victim, join(sb.target, 'base.tar'));
    server.script = {};
    const r = await runBasebackup([...server.args(), '-D', sb.target, '--no-status-file', '-Ft', '-X', 'none'], { env: clientEnv(root), timeoutMs: 30_000 });
    expect(r.status).toBe(1);
    expect(errorLine(r)).toBe(`pg_basebackup: error: directory "${sb.target}" exists but is not empty`);
  });
});
