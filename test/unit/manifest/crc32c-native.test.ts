/**
 * The native CRC-32C (@node-rs/crc32) is loaded on first use, not when the checksum module is imported:
 * a backup that checks no CRC-32C does without it.  Checked in a fresh process (the module cache of
 * this one may hold it already), with the TypeScript source loaded through tsx.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/pg-cluster.js';

it('loads @node-rs/crc32 on the first CRC-32C of 64 bytes or more, with the tables\' result', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgbb-crc-'));
  try {
    const script = join(dir, 'probe.mts');
    const checksum = pathToFileURL(join(REPO_ROOT, 'src', 'manifest', 'checksum.ts')).href;
    writeFileSync(
      script,
      `import { createRequire } from 'node:module';
import { crc32c, crc32cTables, CRC32C_INIT } from ${JSON.stringify(checksum)};
const cache = createRequire(${JSON.stringify(join(REPO_ROOT, 'package.json'))}).cache;
const loaded = () => Object.keys(cache).some((k) => k.includes('@node-rs'));
const out = { atImport: loaded() };
const small = Buffer.from('0123456789');
out.smallSame = crc32c(CRC32C_INIT, small) === crc32cTables(CRC32C_INIT, small);
out.afterSmall = loaded();
const big = Buffer.alloc(1000, 7);
out.bigSame = crc32c(CRC32C_INIT, big) === crc32cTables(CRC32C_INIT, big);
out.afterBig = loaded();
console.log(JSON.stringify(out));
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ atImport: false, smallSame: true, afterSmall: false, bigSame: true, afterBig: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
