/**
 * pg_verifybackup (ours) against PostgreSQL 18.6's on the same backups of an 18 server with a
 * tablespace: intact plain and tar (none, gzip, lz4, zstd, -X fetch) backups, each corruption of issue
 * 12 applied to a copy (`cp -a`), options and usage errors: same exit status, same stdout and stderr
 * (program path and progress lines aside).  Where 18 cannot look (WAL inside pg_wal.tar or base.tar),
 * ours must still catch the damage.  The comparisons need /opt/pg18 (../shared/scripts/build-pg-tools.sh
 * 18) and are skipped by name without it; the checks of ours alone always run.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walFileName } from '../../src/lsn.js';
import { runBasebackup, socketArgs, startTablespaceSource, type TablespaceSource } from '../support/backup-helpers.js';
import {
  copyBackup,
  expectSameAsPg,
  firstTwoRecords,
  flipFileByte,
  firstFileMember,
  flipTarMemberByte,
  formatLsn,
  have18,
  ours,
  SEG,
  segOffset,
  walRangeOf,
} from './verify-support.js';

describe('pg_verifybackup on backups of an 18 server', () => {
  let src: TablespaceSource;
  let work: string;
  const backups: Record<string, string> = {};
  let seq = 0;
  const copyOf = (name: string) => copyBackup(backups[name] as string, join(work, `copy-${++seq}`));

  beforeAll(async () => {
    src = await startTablespaceSource('pgbb-verify18-', { major: 18 });
    work = join(src.work, 'backups');
    mkdirSync(work);
    await src.c.query(
      `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g;
       CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g AS id FROM generate_series(1, 2000) g; CHECKPOINT`,
    );
    const base = [...socketArgs(src.c), '-cfast'];
    const make = async (name: string, args: string[]) => {
      const d = join(work, name);
      const r = await runBasebackup([...base, '-D', d, ...args], { env: src.env });
      expect(r.status, r.stderr).toBe(0);
      backups[name] = d;
    };
    await make('plain', ['-T', `${src.tsDir}=${join(work, 'plain-ts')}`]);
    await make('tar', ['-Ft']);
    await make('gzip', ['-Ft', '-z']);
    await make('lz4', ['-Ft', '--compress=client-lz4']);
    await make('zstd', ['-Ft', '--compress=client-zstd']);
    await make('fetch-gzip', ['-Ft', '-Xfetch', '-z']);
  }, 120_000);

  afterAll(async () => {
    await src?.destroy();
  });

  it('intact plain backup: ours verifies it, WAL included', async () => {
    expect(await ours([backups['plain'] as string])).toEqual({ status: 0, stdout: 'backup successfully verified\n', stderr: '' });
  });

  it.skipIf(!have18)('intact plain backup: same as PostgreSQL 18.6 (with WAL, -q, -s, -P)', async () => {
    const d = backups['plain'] as string;
    expect((await expectSameAsPg([d])).status).toBe(0);
    expect((await expectSameAsPg(['-q', d])).stdout).toBe('');
    await expectSameAsPg(['-s', d]);
    await expectSameAsPg(['-P', d]);
  });

  for (const name of ['tar', 'gzip', 'lz4', 'zstd', 'fetch-gzip']) {
    it(`intact tar backup (${name}): ours verifies it, WAL inside the archives included`, async () => {
      expect(await ours([backups[name] as string])).toEqual({ status: 0, stdout: 'backup successfully verified\n', stderr: '' });
      expect((await ours(['-F', 't', backups[name] as string])).status).toBe(0);
    });

    it.skipIf(!have18)(`intact tar backup (${name}): same as PostgreSQL 18.6 with -n`, async () => {
      expect((await expectSameAsPg(['-n', backups[name] as string])).status).toBe(0);
    });
  }

  interface Damage {
    name: string;
    apply(dir: string): Promise<void> | void;
    status: number;
    stderr: RegExp | string;
  }
  const plainDamages: Damage[] = [
    { name: 'missing file', apply: (d) => unlinkSync(join(d, 'global/pg_filenode.map')), status: 1, stderr: '"global/pg_filenode.map" is present in the manifest but not on disk' },
    { name: 'extra file', apply: (d) => writeFileSync(join(d, 'base/extra'), 'x'), status: 1, stderr: '"base/extra" is present on disk but not in the manifest' },
    { name: 'truncated file', apply: (d) => truncateSync(join(d, 'base/1/1259'), 100), status: 1, stderr: '"base/1/1259" has size 100 on disk but size' },
    { name: 'flipped byte', apply: (d) => flipFileByte(join(d, 'base/1/1259'), 100), status: 1, stderr: 'checksum mismatch for file "base/1/1259"' },
    { name: 'mode change only', apply: (d) => chmodSync(join(d, 'PG_VERSION'), 0o444), status: 0, stderr: '' },
    {
      name: 'bad manifest checksum',
      apply: (d) => {
        const p = join(d, 'backup_manifest');
        writeFileSync(p, readFileSync(p, 'utf8').replace(/("Manifest-Checksum": ")(.)/, (_m, a: string, c: string) => `${a}${c === '0' ? '1' : '0'}`));
      },
      status: 1,
      stderr: 'manifest checksum mismatch',
    },
    { name: 'broken JSON', apply: (d) => truncateSync(join(d, 'backup_manifest'), 40), status: 1, stderr: 'could not parse backup manifest' },
    {
      name: 'missing WAL segment',
      apply: (d) => {
        for (const f of readdirSync(join(d, 'pg_wal'))) if (/^[0-9A-F]{24}$/.test(f)) unlinkSync(join(d, 'pg_wal', f));
      },
      status: 1,
      stderr: 'pg_waldump: error: could not find any WAL file\npg_verifybackup: error: WAL parsing failed for timeline 1\n',
    },
    {
      name: 'WAL from another timeline',
      apply: (d) => {
        for (const f of readdirSync(join(d, 'pg_wal'))) {
          if (/^00000001[0-9A-F]{16}$/.test(f)) renameSync(join(d, 'pg_wal', f), join(d, 'pg_wal', `00000002${f.slice(8)}`));
        }
      },
      status: 1,
      stderr: /could not find file "00000001[0-9A-F]{16}": No such file or directory\n.*WAL parsing failed for timeline 1/s,
    },
  ];

  for (const dmg of plainDamages) {
    it(`plain, ${dmg.name}: ours reports it`, async () => {
      const d = await copyOf('plain');
      await dmg.apply(d);
      const o = await ours([d]);
      expect(o.status, o.stderr).toBe(dmg.status);
      if (typeof dmg.stderr === 'string') expect(o.stderr).toContain(dmg.stderr);
      else expect(o.stderr).toMatch(dmg.stderr);
      expect(o.stdout).toBe(dmg.status === 0 ? 'backup successfully verified\n' : '');
      if (have18) await expectSameAsPg([d]);
      rmSync(d, { recursive: true, force: true });
    });
  }

  it.skipIf(!have18)('plain, many missing and damaged files: every message, in the order 18 prints them', async () => {
    const d = await copyOf('plain');
    const rels = readdirSync(join(d, 'base/1'));
    for (const f of rels.filter((n) => n.startsWith('12'))) unlinkSync(join(d, 'base/1', f));
    for (const f of rels.filter((n) => n.startsWith('26'))) flipFileByte(join(d, 'base/1', f), 0);
    const o = await expectSameAsPg([d]);
    expect(o.stderr.match(/present in the manifest but not on disk/g)?.length).toBeGreaterThan(5);
    expect(o.stderr.match(/checksum mismatch/g)?.length).toBeGreaterThan(5);
  });

  it('plain, flipped byte inside a WAL record: the record CRC fails, as pg_waldump says', async () => {
    const d = await copyOf('plain');
    const range = walRangeOf(d);
    const [first, second] = await firstTwoRecords(join(d, 'pg_wal'), 18, range);
    const seg = readdirSync(join(d, 'pg_wal')).find((f) => /^[0-9A-F]{24}$/.test(f)) as string;
    flipFileByte(join(d, 'pg_wal', seg), segOffset(second) + 26);
    const o = await ours([d]);
    expect(o.status).toBe(1);
    expect(o.stderr).toBe(
      `pg_waldump: error: error in WAL record at ${formatLsn(first)}: incorrect resource manager data checksum in record at ${formatLsn(second)}\n` +
        'pg_verifybackup: error: WAL parsing failed for timeline 1\n',
    );
    if (have18) await expectSameAsPg([d]);
  });

  it('tar, flipped byte and extra top-level file: ours reports both (compared with 18 under -n)', async () => {
    const d = await copyOf('tar');
    flipTarMemberByte(join(d, 'base.tar'), 'PG_VERSION', 0);
    writeFileSync(join(d, 'notes.txt'), 'x');
    const o = await ours(['-n', d]);
    expect(o.status).toBe(1);
    expect(o.stderr).toContain('file "notes.txt" is not expected in a tar format backup');
    expect(o.stderr).toContain('checksum mismatch for file "PG_VERSION" in archive "base.tar"');
    if (have18) await expectSameAsPg(['-n', d]);
  });

  it('tar with a tablespace: members of <oid>.tar are checked as pg_tblspc/<oid>/...', async () => {
    const d = await copyOf('tar');
    const ts = readdirSync(d).find((f) => /^\d+\.tar$/.test(f)) as string;
    expect(ts).toBeDefined();
    const raw = readFileSync(join(d, ts));
    const oid = ts.replace('.tar', '');
    const name = firstFileMember(raw);
    flipTarMemberByte(join(d, ts), name, 0);
    const o = await ours(['-n', d]);
    expect(o.stderr).toContain(`checksum mismatch for file "pg_tblspc/${oid}/`);
    if (have18) await expectSameAsPg(['-n', d]);
  });

  it('WAL damaged inside pg_wal.tar: ours catches it; PostgreSQL 18 cannot read it', async () => {
    const d = await copyOf('tar');
    const range = walRangeOf(d);
    const seg = walFileName(1, range.start / BigInt(SEG), SEG);
    flipTarMemberByte(join(d, 'pg_wal.tar'), seg, segOffset(range.start) + 0x20 + 26);
    const o = await ours([d]);
    expect(o.status).toBe(1);
    // 18 starts the range with a 30-byte CHECKPOINT_REDO record; the second record is 32 bytes on.
    expect(o.stderr).toBe(
      `pg_waldump: error: error in WAL record at ${formatLsn(range.start)}: incorrect resource manager data checksum in record at ${formatLsn(range.start + 0x20n)}\n` +
        'pg_verifybackup: error: WAL parsing failed for timeline 1\n',
    );
    expect((await ours(['-n', d])).status).toBe(0);
  });

  it('WAL damaged inside base.tar.gz (-X fetch): ours catches it', async () => {
    const d = await copyOf('fetch-gzip');
    const range = walRangeOf(d);
    const seg = walFileName(1, range.start / BigInt(SEG), SEG);
    flipTarMemberByte(join(d, 'base.tar.gz'), `pg_wal/${seg}`, segOffset(range.start) + 0x20 + 26);
    const o = await ours([d]);
    expect(o.status).toBe(1);
    expect(o.stderr).toContain('incorrect resource manager data checksum in record at');
    expect(o.stderr).toContain('WAL parsing failed for timeline 1');
  });

  it.skipIf(!have18)('options: -e stops at the first error, -i ignores, -m and -w move the manifest and WAL (same as 18)', async () => {
    const d = await copyOf('plain');
    writeFileSync(join(d, 'extra1'), 'x');
    unlinkSync(join(d, 'global/pg_filenode.map'));
    const e = await expectSameAsPg(['-e', d]);
    expect(e.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    await expectSameAsPg(['-i', 'extra1', '-i', 'global/pg_filenode.map', d]);
    renameSync(join(d, 'backup_manifest'), join(work, 'moved_manifest'));
    renameSync(join(d, 'pg_wal'), join(work, 'moved_wal'));
    expect((await expectSameAsPg(['-i', 'extra1', '-i', 'global', '-m', join(work, 'moved_manifest'), '-w', join(work, 'moved_wal'), d])).status).toBe(0);
    await expectSameAsPg(['-i', 'extra1', '-i', 'global', '-m', join(work, 'moved_manifest'), d]);
  });

  it.skipIf(!have18)('usage errors: same texts and status as 18', async () => {
    const d = backups['plain'] as string;
    for (const args of [[], [d, 'x'], ['-F', 'zip', d], ['-P', '-q', d], ['-k', d], ['--wal-directory'], ['--bogus', d], [join(work, 'nope')]]) {
      expect((await expectSameAsPg(args)).status).toBe(1);
    }
  });
});
