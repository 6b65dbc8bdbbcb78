#!/usr/bin/env node
/**
 * `npm run build`, second step: each command is bundled into one ES module under dist/bin/ (what
 * package.json's "bin" runs), from tsc's output.  A process that loads one file instead of ~100
 * modules starts in 0.17 s instead of 0.22 s and with 6 MB less memory (--version: 50.6 MB peak RSS
 * against 56.6 MB), which is most of what stood between pg_basebackup and its 64 MB target.  The
 * npm packages stay outside the bundle (native add-ons load from node_modules as before); the library
 * (dist/index.js) is not bundled.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * Node options in the commands' "#!" line (run through `env -S`, as installed commands are).
 * pg_basebackup (and the catalog, which runs it in-process) keep V8's young generation at 1 MB a
 * semi-space instead of growing it to 16 MB: the garbage of a backup is short-lived (tar headers, path
 * strings), and the peak RSS of 10,000 small tables drops from 107 to 76 MB, of a 1.5 GB plain backup
 * from 64 to 62 MB, for no measurable CPU.  They also run V8 without background threads
 * (`--single-threaded`: its heap is a few MB, so concurrent marking and compiling buy nothing): 3-4 MB
 * less peak RSS on Node.js 20 and 24, same wall time (plain, --verify, lz4, zstd, A/B over 4-5 runs
 * each).  (pg_verifybackup would lose 9% of its wall time to it: not there.)  `node <file>` ignores
 * the line: the benchmark passes the same options (shebangOptions()).
 */
const BACKUP_NODE_OPTIONS = ['--max-semi-space-size=1', '--single-threaded'];
const NODE_OPTIONS = { pg_basebackup: BACKUP_NODE_OPTIONS, 'pg-basebackup-catalog': BACKUP_NODE_OPTIONS };

/** dist/bin/<name>.mjs from dist/<entry>.js; package.json's "bin" names these. */
const COMMANDS = {
  pg_basebackup: 'cli/main.js',
  'pg-basebackup-status': 'cli/status-command.js',
  pg_combinebackup: 'combine/main.js',
  pg_verifybackup: 'verify/main.js',
  'pg-basebackup-catalog': 'catalog/main.js',
};

for (const [name, entry] of Object.entries(COMMANDS)) {
  const outfile = join(root, 'dist', 'bin', `${name}.mjs`);
  await build({
    entryPoints: [join(root, 'dist', entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  const options = NODE_OPTIONS[name];
  if (options !== undefined) {
    const text = readFileSync(outfile, 'utf8');
    if (!text.startsWith('#!/usr/bin/env node\n')) throw new Error(`${outfile}: no "#!/usr/bin/env node" line to extend`);
    writeFileSync(outfile, `#!/usr/bin/env -S node ${options.join(' ')}\n${text.slice(text.indexOf('\n') + 1)}`);
  }
  chmodSync(outfile, 0o755);
}
