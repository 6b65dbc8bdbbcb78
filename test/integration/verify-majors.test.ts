/**
 * pg_verifybackup (ours) on backups of 15, 16 and 17 servers, one cluster each: plain and tar.gz
 * backups verify with their WAL (the built-in reader knows each major's WAL; PostgreSQL 18's
 * pg_verifybackup needs a pg_waldump of the same major and fails without -n), and WAL damage (a
 * flipped byte in a record, a missing segment, WAL of another timeline, a flipped byte inside
 * pg_wal.tar.gz) is caught with pg_waldump's wording.  Where 18 can check (manifest version 1 of 15
 * and 16, with -n) ours gives the same output.  One backup is written by Debian's pg_basebackup 15.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walFileName } from '../../src/lsn.js';
import { clientEnv, runBasebackup, runTool, socketArgs } from '../support/backup-helpers.js';
import { makeTempDir, PgCluster, type Major } from '../support/pg-cluster.js';
import {
  copyBackup,
  expectSameAsPg,
  firstTwoRecords,
  flipFileByte,
  flipTarMemberByte,
  formatLsn,
  have18,
  ours,
  runPgVerify,
  SEG,
  segOffset,
  walRangeOf,
} from './verify-support.js';

const DEBIAN_PG15_BASEBACKUP = '/usr/lib/postgresql/15/bin/pg_basebackup';

for (const major of [15, 16, 17] as Major[]) {
  describe(`pg_verifybackup on backups of a ${major} server`, () => {
    let c: PgCluster;
    let work: string;
    let env: NodeJS.ProcessEnv;
    let plain: string;
    let tgz: string;
    let seq = 0;
    const copyOf = (from: string) => copyBackup(from, join(work, `copy-${++seq}`));

    beforeAll(async () => {
      work = makeTempDir(`pgbb-verify${major}-`);
      mkdirSync(join(work, 'home'));
      env = clientEnv(join(work, 'home'));
      c = await PgCluster.start({ major });
      await c.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g; CHECKPOINT`);
      plain = join(work, 'plain');
      tgz = join(work, 'tgz');
      for (const [d, args] of [[plain, []], [tgz, ['-Ft', '-z']]] as const) {
        const r = await runBasebackup([...socketArgs(c), '-cfast', '-D', d, ...args], { env });
        expect(r.status, r.stderr).toBe(0);
      }
    }, 60_000);

    afterAll(async () => {
      await c?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('intact plain and tar.gz backups verify, WAL included', async () => {
      for (const d of [plain, tgz]) {
        expect(await ours([d])).toEqual({ status: 0, stdout: 'backup successfully verified\n', stderr: '' });
      }
    });

    it.skipIf(!have18)(`PostgreSQL 18's pg_verifybackup cannot verify ${major}'s backup fully; ours can`, async () => {
      const pg = await runPgVerify([plain]);
      expect(pg.status).toBe(1);
      // 15, 16: its pg_waldump reads only 18's WAL.  17: it reads pg_control with 18's layout first.
      expect(pg.stderr).toContain(major === 17 ? 'global/pg_control: CRC is incorrect' : 'WAL parsing failed for timeline 1');
      expect((await ours([plain])).status).toBe(0);
    });

    if (major !== 17) {
      // 17's manifests are version 2: 18 then reads pg_control with its own layout and stops.
      it.skipIf(!have18)('with -n, the same output as PostgreSQL 18.6 (manifest version 1)', async () => {
        expect((await expectSameAsPg(['-n', plain])).status).toBe(0);
        expect((await expectSameAsPg(['-n', tgz])).status).toBe(0);
      });
    }

    it('a flipped byte inside a WAL record: pg_waldump\'s CRC message', async () => {
      const d = await copyOf(plain);
      const range = walRangeOf(d);
      const [first, second] = await firstTwoRecords(join(d, 'pg_wal'), major, range);
      flipFileByte(join(d, 'pg_wal', walFileName(1, second / BigInt(SEG), SEG)), segOffset(second) + 26);
      expect(await ours([d])).toEqual({
        status: 1,
        stdout: '',
        stderr:
          `pg_waldump: error: error in WAL record at ${formatLsn(first)}: incorrect resource manager data checksum in record at ${formatLsn(second)}\n` +
          'pg_verifybackup: error: WAL parsing failed for timeline 1\n',
      });
      expect((await ours(['-n', d])).status).toBe(0);
    });

    it('a missing WAL segment, and WAL of another timeline', async () => {
      const d = await copyOf(plain);
      const range = walRangeOf(d);
      const name = walFileName(1, range.start / BigInt(SEG), SEG);
      renameSync(join(d, 'pg_wal', name), join(d, 'pg_wal', `00000002${name.slice(8)}`));
      expect(await ours([d])).toEqual({
        status: 1,
        stdout: '',
        stderr: `pg_waldump: error: could not find file "${name}": No such file or directory\npg_verifybackup: error: WAL parsing failed for timeline 1\n`,
      });
      for (const f of readdirSync(join(d, 'pg_wal'))) if (/^[0-9A-F]{24}$/.test(f)) unlinkSync(join(d, 'pg_wal', f));
      expect((await ours([d])).stderr).toBe('pg_waldump: error: could not find any WAL file\npg_verifybackup: error: WAL parsing failed for timeline 1\n');
    });

    it('a flipped byte inside pg_wal.tar.gz is caught (PostgreSQL cannot read WAL in tar)', async () => {
      const d = await copyOf(tgz);
      const range = walRangeOf(d);
      const name = walFileName(1, range.start / BigInt(SEG), SEG);
      flipTarMemberByte(join(d, 'pg_wal.tar.gz'), name, segOffset(range.start) + 2);
      const o = await ours([d]);
      expect(o.status).toBe(1);
      expect(o.stderr).toBe(
        `pg_waldump: error: could not find a valid record after ${formatLsn(range.start)}\npg_verifybackup: error: WAL parsing failed for timeline 1\n`,
      );
      expect((await ours(['-n', d])).status).toBe(0);
    });

    if (major === 15) {
      it.skipIf(!existsSync(DEBIAN_PG15_BASEBACKUP))('a backup written by Debian\'s pg_basebackup 15 verifies (and as 18 says with -n)', async () => {
        const d = join(work, 'debian');
        const r = await runTool(DEBIAN_PG15_BASEBACKUP, [...socketArgs(c), '-cfast', '-D', d], { env });
        expect(r.status, r.stderr).toBe(0);
        expect(await ours([d])).toEqual({ status: 0, stdout: 'backup successfully verified\n', stderr: '' });
        if (have18) await expectSameAsPg(['-n', d]);
        flipFileByte(join(d, 'PG_VERSION'), 0);
        expect((await ours([d])).stderr).toContain('checksum mismatch for file "PG_VERSION"');
      });
    }
  });
}
