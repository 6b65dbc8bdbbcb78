/**
 * `npm run bench`: our pg_basebackup against the system's (Debian's PostgreSQL 15 client, when
 * present) on the same server, an embedded PostgreSQL of the system tool's major (15: pg_basebackup
 * 15 refuses newer servers).  Prints measured figures; asserts nothing.
 *
 *   npm run bench -- [--rounds N] [--scale MB] [--rss-sizes MB,MB] [--rss-rounds N] [--small-tables N]
 *                    [--modes plain,tar,stdout,devnull,small,lz4,zstd1,zstd] [--ours-only] [--no-warmup] [--no-tools] [--json FILE]
 *
 * - Data: ~`--scale` MB (default 500) of pgbench-like tables plus a table of repeat(md5()) text,
 *   generated server-side with generate_series, then VACUUM ANALYZE and CHECKPOINT.
 * - Modes (issue 13's target table), all with -cfast, output in a temporary directory under /tmp (same
 *   file system for both tools): plain (-Fp -Xstream, fsync), tar (-Ft -Xstream, fsync), tar to stdout
 *   (-Ft -D - -Xfetch, read from a pipe by this process and discarded; no fsync), the same with
 *   standard output on /dev/null (devnull: issue 13's own wording of that row), client-side
 *   compression to files (-Ft -Xfetch, fsync): lz4 (-Z client-lz4), zstd1 (-Z client-zstd:1), zstd
 *   (-Z client-zstd, its default level); and small: `--small-tables` (default 10000) one-row tables
 *   in a second server (about six files each), plain -Fp -Xfetch with fsync.
 * - Runs are interleaved A/B (ours, theirs, ours, theirs, ...) for `--rounds` rounds (default 5),
 *   after one untimed warm-up of each tool; `sync` runs (untimed) before every run.
 * - Per run: wall time (measured here), user+sys CPU of the client process and peak RSS (maxrss),
 *   from /usr/bin/time when present, else from bash's `times` plus polling /proc/<pid>/status VmHWM.
 *   The server's CPU (walsender) is not counted for either tool.  With /usr/bin/time, also minor
 *   page faults and context switches (a detail table, to explain CPU gaps).
 * - Then our peak RSS (and theirs, for reference) in plain format at two data sizes (`--rss-sizes`,
 *   default 200,800 MB, `--rss-rounds` runs each, default 2) to show whether memory stays flat.
 * - Printed: medians, ratios ours/theirs, and the targets (plain wall <= 0.8x, tar wall <= 1.0x,
 *   peak RSS <= 64 MB and flat) as met / NOT met.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { runToolsBench } from './bench-tools.js';
import { makeTempDir, MAJORS, PgCluster, REPO_ROOT, systemTool, type Major } from '../test/support/pg-cluster.js';

// ---------------------------------------------------------------------------------------------
// Options

type Mode = 'plain' | 'tar' | 'stdout' | 'devnull' | 'small' | 'lz4' | 'zstd1' | 'zstd';
type Tool = 'ours' | 'theirs';
const ALL_MODES: Mode[] = ['plain', 'tar', 'stdout', 'devnull', 'small', 'lz4', 'zstd1', 'zstd'];

interface Options {
  rounds: number;
  scaleMB: number;
  rssSizes: number[];
  rssRounds: number;
  modes: Mode[];
  oursOnly: boolean;
  warmup: boolean;
  json: string | undefined;
  /** Skip the wave-2 tools (bench-tools.ts: --verify, pg_verifybackup, pg_combinebackup). */
  noTools: boolean;
  /** One-row tables in the second server for the 'small' mode. */
  smallTables: number;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  process.stderr.write(
    'usage: npm run bench -- [--rounds N] [--scale MB] [--rss-sizes MB,MB] [--rss-rounds N] [--small-tables N] [--modes plain,tar,stdout,devnull,small,lz4,zstd1,zstd] [--ours-only] [--no-warmup] [--no-tools] [--json FILE]\n',
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const o: Options = { rounds: 5, scaleMB: 500, rssSizes: [200, 800], rssRounds: 2, modes: [...ALL_MODES], oursOnly: false, warmup: true, json: undefined, noTools: false, smallTables: 10000 };
  const posInt = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) usage(`${name} needs a non-negative integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--rounds':
        o.rounds = Math.max(1, posInt(flag, value()));
        break;
      case '--scale':
        o.scaleMB = Math.max(30, posInt(flag, value()));
        break;
      case '--rss-sizes': {
        const v = value() ?? '';
        o.rssSizes = v === '' || v === 'none' ? [] : v.split(',').map((s) => Math.max(30, posInt(flag, s)));
        break;
      }
      case '--rss-rounds':
        o.rssRounds = posInt(flag, value());
        break;
      case '--small-tables':
        o.smallTables = Math.max(1, posInt(flag, value()));
        break;
      case '--modes': {
        const ms = (value() ?? '').split(',').filter((s) => s !== '');
        for (const m of ms) if (!ALL_MODES.includes(m as Mode)) usage(`unknown mode "${m}"`);
        o.modes = ms as Mode[];
        break;
      }
      case '--ours-only':
        o.oursOnly = true;
        break;
      case '--no-warmup':
        o.warmup = false;
        break;
      case '--no-tools':
        o.noTools = true;
        break;
      case '--json':
        o.json = value();
        break;
      case '--help':
      case '-h':
        usage();
      // eslint-disable-next-line no-fallthrough
      default:
        usage(`unknown argument "${a}"`);
    }
  }
  if (o.rssRounds === 0) o.rssSizes = [];
  return o;
}

// ---------------------------------------------------------------------------------------------
// Measuring one run

interface Sample {
  tool: Tool;
  mode: Mode;
  sizeMB: number;
  /** Seconds, measured by this process around the child. */
  wall: number;
  user: number;
  sys: number;
  /** Peak resident set size in KiB. */
  maxrssKB: number;
  /** Bytes produced (files written, or bytes read from the pipe). */
  outBytes: number;
  /** Minor page faults, voluntary and involuntary context switches (NaN without /usr/bin/time). */
  minflt: number;
  vcsw: number;
  ivcsw: number;
}

const TIME_BIN = process.env.BENCH_FORCE_FALLBACK ? undefined : ['/usr/bin/time', '/bin/time'].find((p) => existsSync(p));
const OURS = join(REPO_ROOT, 'dist', 'bin', 'pg_basebackup.mjs');

/** The Node options of a command's "#!/usr/bin/env -S node ..." line (scripts/bundle.mjs), to run it as installed. */
export function shebangOptions(file: string): string[] {
  const first = readFileSync(file, 'utf8').slice(0, 200).split('\n')[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node (.*)$/.exec(first);
  return m ? (m[1] as string).split(' ').filter((o) => o !== '') : [];
}

interface Measured {
  code: number | string;
  wall: number;
  user: number;
  sys: number;
  maxrssKB: number;
  minflt: number;
  vcsw: number;
  ivcsw: number;
  stdoutBytes: number;
  stderr: string;
}

/** `XmY.YYYs` (bash `times`) to seconds. */
function bashSeconds(s: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(s.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

/** All descendants of `pid` (via /proc/<pid>/task/<tid>/children). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let kids = '';
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.split(/\s+/).filter((s) => s !== '')) {
        out.push(Number(k));
        walk(Number(k));
      }
    }
  };
  walk(pid);
  return out;
}

function vmHwmKB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

let runCounter = 0;

/** Run a command, measuring wall time here and CPU + peak RSS of the client process. */
async function measure(cmd: string, args: string[], opts: { pipeStdout: boolean; env: NodeJS.ProcessEnv; scratch: string }): Promise<Measured> {
  const statFile = join(opts.scratch, `rusage-${++runCounter}.txt`);
  let file: string;
  let argv: string[];
  const env = { ...opts.env };
  if (TIME_BIN !== undefined) {
    file = TIME_BIN;
    argv = ['-f', '%e %U %S %M %R %w %c', '-o', statFile, cmd, ...args];
  } else {
    file = 'bash';
    argv = ['-c', '"$@"; rc=$?; times > "$BENCH_TIMES_FILE"; exit $rc', 'bench', cmd, ...args];
    env.BENCH_TIMES_FILE = statFile;
  }
  const t0 = process.hrtime.bigint();
  const child = spawn(file, argv, { stdio: ['ignore', opts.pipeStdout ? 'pipe' : 'ignore', 'pipe'], env });
  let stdoutBytes = 0;
  child.stdout?.on('data', (b: Buffer) => {
    stdoutBytes += b.length;
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += b.toString('utf8');
  });
  // Fallback peak RSS: VmHWM only grows, so polling misses at most the last interval's growth.
  const hwm = new Map<number, number>();
  const poll =
    TIME_BIN === undefined
      ? setInterval(() => {
          if (child.pid === undefined) return;
          for (const p of descendants(child.pid)) hwm.set(p, Math.max(hwm.get(p) ?? 0, vmHwmKB(p)));
        }, 20)
      : undefined;
  const code = await new Promise<number | string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? sig ?? 'unknown'));
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (poll) clearInterval(poll);

  let user = NaN;
  let sys = NaN;
  let maxrssKB = NaN;
  let minflt = NaN;
  let vcsw = NaN;
  let ivcsw = NaN;
  const stats = existsSync(statFile) ? readFileSync(statFile, 'utf8').trim().split('\n') : [];
  rmSync(statFile, { force: true });
  if (TIME_BIN !== undefined) {
    // With a non-zero exit status, time(1) writes "Command exited with non-zero status N" first.
    const last = (stats[stats.length - 1] ?? '').trim().split(/\s+/).map(Number);
    [, user = NaN, sys = NaN, maxrssKB = NaN, minflt = NaN, vcsw = NaN, ivcsw = NaN] = last;
  } else {
    // `times`: the shell's own user/sys, then its children's.
    const kids = (stats[1] ?? '').trim().split(/\s+/);
    user = bashSeconds(kids[0] ?? '');
    sys = bashSeconds(kids[1] ?? '');
    maxrssKB = Math.max(0, ...hwm.values());
  }
  return { code, wall, user, sys, maxrssKB, minflt, vcsw, ivcsw, stdoutBytes, stderr };
}

function treeBytes(path: string): number {
  let total = 0;
  const walk = (p: string): void => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else if (st.isFile()) total += st.size;
  };
  if (existsSync(path)) walk(path);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Data

const MB = 1024 * 1024;

async function databaseBytes(c: PgCluster): Promise<number> {
  const rows = await c.query<{ b: string }>('SELECT sum(pg_database_size(oid))::text AS b FROM pg_database');
  return Number(rows[0]?.b ?? 0);
}

async function createSchema(c: PgCluster): Promise<void> {
  await c.query(`
    CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88)) WITH (fillfactor = 100);
    CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84)) WITH (fillfactor = 100);
    CREATE TABLE pgbench_accounts (aid bigint PRIMARY KEY, bid int, abalance int, filler char(84)) WITH (fillfactor = 100);
    CREATE TABLE pgbench_history (tid int, bid int, aid bigint, delta int, mtime timestamp, filler char(22));
    CREATE TABLE bench_text (id bigint PRIMARY KEY, tag text, body text);
  `);
}

/**
 * Grow the databases to about `targetMB` (sum of pg_database_size), in steps of at most 64 MB:
 * ~45% pgbench_accounts rows (with their index, ~150 bytes a row), ~50% bench_text rows of
 * repeat(md5()) (~1 KB, stored inline), and a little pgbench_history.
 */
async function growTo(c: PgCluster, targetMB: number): Promise<number> {
  const target = targetMB * MB;
  for (;;) {
    const have = await databaseBytes(c);
    if (have >= target * 0.98) return have;
    const step = Math.min(64 * MB, target - have);
    const accounts = Math.max(1, Math.round((step * 0.45) / 150));
    const texts = Math.max(1, Math.round((step * 0.5) / 1050));
    const history = Math.max(1, Math.round((step * 0.05) / 80));
    await c.query(`
      INSERT INTO pgbench_branches SELECT b, 0, '' FROM generate_series(coalesce((SELECT max(bid) FROM pgbench_branches), 0) + 1,
        coalesce((SELECT max(bid) FROM pgbench_branches), 0) + 1) b;
      INSERT INTO pgbench_tellers SELECT t, (SELECT max(bid) FROM pgbench_branches), 0, ''
        FROM generate_series(coalesce((SELECT max(tid) FROM pgbench_tellers), 0) + 1, coalesce((SELECT max(tid) FROM pgbench_tellers), 0) + 10) t;
      INSERT INTO pgbench_accounts SELECT a, (a - 1) / 100000 + 1, 0, ''
        FROM generate_series(coalesce((SELECT max(aid) FROM pgbench_accounts), 0) + 1, coalesce((SELECT max(aid) FROM pgbench_accounts), 0) + ${accounts}) a;
      INSERT INTO pgbench_history SELECT g % 10 + 1, g % 7 + 1, g, g % 5000 - 2500, timestamp '2026-01-01' + g * interval '1 second', ''
        FROM generate_series(1, ${history}) g;
      INSERT INTO bench_text SELECT g, md5((g * 7)::text), repeat(md5(g::text), 30)
        FROM generate_series(coalesce((SELECT max(id) FROM bench_text), 0) + 1, coalesce((SELECT max(id) FROM bench_text), 0) + ${texts}) g;
    `);
  }
}

async function settle(c: PgCluster): Promise<void> {
  await c.query('VACUUM ANALYZE');
  await c.query('CHECKPOINT');
}

// ---------------------------------------------------------------------------------------------
// Statistics and printing

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const mbOf = (kb: number): number => kb / 1024;
const ratio = (a: number, b: number): number => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const MODE_LABEL: Record<Mode, string> = {
  plain: 'plain -Fp -Xstream (fsync)',
  tar: 'tar -Ft -Xstream (fsync)',
  stdout: 'tar -Ft -D - -Xfetch (pipe)',
  devnull: 'tar -Ft -D - -Xfetch > /dev/null',
  small: 'small tables -Fp -Xfetch (fsync)',
  lz4: 'tar -Z client-lz4 (fsync)',
  zstd1: 'tar -Z client-zstd:1 (fsync)',
  zstd: 'tar -Z client-zstd (fsync)',
};
/** stdout and devnull differ only in where the child's standard output goes. */
const TO_STDOUT_ARGS = ['-D', '-', '-Ft', '-Xfetch'];
const MODE_ARGS: Record<Mode, (dir: string) => string[]> = {
  plain: (dir) => ['-D', dir, '-Fp', '-Xstream'],
  tar: (dir) => ['-D', dir, '-Ft', '-Xstream'],
  stdout: () => TO_STDOUT_ARGS,
  devnull: () => TO_STDOUT_ARGS,
  small: (dir) => ['-D', dir, '-Fp', '-Xfetch'],
  lz4: (dir) => ['-D', dir, '-Ft', '-Xfetch', '-Z', 'client-lz4'],
  zstd1: (dir) => ['-D', dir, '-Ft', '-Xfetch', '-Z', 'client-zstd:1'],
  zstd: (dir) => ['-D', dir, '-Ft', '-Xfetch', '-Z', 'client-zstd'],
};
/** Modes whose -D is a directory made before the run (tar formats). */
const TAR_DIR_MODES: ReadonlySet<Mode> = new Set(['tar', 'lz4', 'zstd1', 'zstd']);
/** Issue 13's targets: wall and CPU ours/theirs, peak RSS (MB). */
const WALL_TARGET: Record<Mode, number> = { plain: 0.8, tar: 0.9, stdout: 1.0, devnull: 1.0, small: 1.0, lz4: 1.0, zstd1: 1.0, zstd: 1.0 };
const CPU_TARGET: Record<Mode, number | undefined> = { plain: 1.2, tar: 1.2, stdout: 1.2, devnull: 1.2, small: undefined, lz4: undefined, zstd1: undefined, zstd: undefined };
const RSS_TARGET: Record<Mode, number> = { plain: 64, tar: 64, stdout: 64, devnull: 64, small: 64, lz4: 96, zstd1: 96, zstd: 96 };
const RSS_TARGET_MB = 64;

function out(s = ''): void {
  process.stdout.write(`${s}\n`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(OURS)) throw new Error(`${OURS} is missing: run "npm run build" first (npm run bench does)`);

  const systemPgbb = opts.oursOnly ? undefined : systemTool('pg_basebackup', 15);
  let theirsVersion = '';
  let major: Major = 15;
  if (systemPgbb !== undefined) {
    theirsVersion = spawnSync(systemPgbb, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const m = /\)\s+(\d+)/.exec(theirsVersion);
    const v = Number(m?.[1]);
    if (MAJORS.includes(v as Major)) major = v as Major;
  }
  const tools: Tool[] = systemPgbb !== undefined ? ['ours', 'theirs'] : ['ours'];

  out('# pg-basebackup benchmark');
  out(`ours:    node ${process.version} ${[...shebangOptions(OURS), OURS].join(' ')}`);
  out(
    systemPgbb !== undefined
      ? `theirs:  ${systemPgbb} (${theirsVersion})`
      : `theirs:  none (${opts.oursOnly ? '--ours-only' : 'no system pg_basebackup found'}): measuring ours alone, no ratios`,
  );
  out(`machine: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}; load average ${loadavg().map(f2).join(' ')}`);
  out(`rusage:  ${TIME_BIN !== undefined ? `${TIME_BIN} -f '%e %U %S %M %R %w %c'` : "bash 'times' (CPU) + /proc/<pid>/status VmHWM polling every 20 ms (peak RSS)"}`);
  out(`plan:    ${opts.rounds} interleaved round(s) of [${opts.modes.join(', ')}] at ~${opts.scaleMB} MB, -cfast${opts.modes.includes('small') ? `, ${opts.smallTables} small tables in a second server` : ''}; RSS at ${opts.rssSizes.length ? opts.rssSizes.map((s) => `${s} MB`).join(' and ') : 'no extra sizes'}`);

  const work = makeTempDir('pgbb-bench-');
  const cluster = await PgCluster.start({ major, conf: { max_wal_size: "'2GB'", checkpoint_timeout: "'30min'" } });
  let smallCluster: PgCluster | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\nbench: interrupted, cleaning up\n');
    void Promise.all([cluster.destroy(), smallCluster?.destroy()]).finally(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const serverVersion = (await cluster.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]?.v ?? '?';
  out(`server:  embedded PostgreSQL ${serverVersion} (fsync=off on the server), output under ${work}`);
  const fsType = spawnSync('stat', ['-f', '-c', '%T', work], { encoding: 'utf8' }).stdout.trim();
  if (fsType) out(`output file system: ${fsType}`);

  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LC_ALL: 'C', TZ: 'UTC' };
  const connArgs = (c: PgCluster): string[] => ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres', '-cfast'];
  const samples: Sample[] = [];

  const runOne = async (tool: Tool, mode: Mode, sizeMB: number, label: string, record = true): Promise<Sample> => {
    const dir = join(work, `out-${tool}-${mode}`);
    rmSync(dir, { recursive: true, force: true });
    if (TAR_DIR_MODES.has(mode)) mkdirSync(dir);
    spawnSync('sync');
    const args = [...connArgs(mode === 'small' ? (smallCluster as PgCluster) : cluster), ...MODE_ARGS[mode](dir)];
    const [cmd, argv] = tool === 'ours' ? [process.execPath, [...shebangOptions(OURS), OURS, ...args]] : [systemPgbb as string, args];
    const m = await measure(cmd, argv, { pipeStdout: mode === 'stdout', env, scratch: work });
    if (m.code !== 0) {
      throw new Error(`${tool} ${mode} failed (exit ${m.code}): ${cmd} ${argv.join(' ')}\n${m.stderr}`);
    }
    // devnull: the child's stdout is /dev/null (spawn's 'ignore'), so its bytes are not seen here.
    const outBytes = mode === 'stdout' ? m.stdoutBytes : mode === 'devnull' ? NaN : treeBytes(dir);
    rmSync(dir, { recursive: true, force: true });
    const s: Sample = { tool, mode, sizeMB, wall: m.wall, user: m.user, sys: m.sys, maxrssKB: m.maxrssKB, outBytes, minflt: m.minflt, vcsw: m.vcsw, ivcsw: m.ivcsw };
    if (record) samples.push(s);
    out(
      `  ${label.padEnd(14)} ${mode.padEnd(6)} ${tool.padEnd(6)}  wall ${f2(s.wall).padStart(6)} s  cpu ${f2(s.user + s.sys).padStart(6)} s (user ${f2(s.user)}, sys ${f2(s.sys)})  rss ${f1(mbOf(s.maxrssKB)).padStart(6)} MB  out ${f1(s.outBytes / MB)} MB`,
    );
    return s;
  };

  const sizes = [...new Set([...opts.rssSizes, opts.scaleMB])].sort((a, b) => a - b);
  const actualMB = new Map<number, number>();
  try {
    if (opts.modes.includes('small')) {
      const t0 = Date.now();
      smallCluster = await PgCluster.start({ major, conf: { max_wal_size: "'2GB'", checkpoint_timeout: "'30min'" } });
      await smallCluster.query(`DO $$ BEGIN FOR i IN 1..${opts.smallTables} LOOP
        EXECUTE format('CREATE TABLE small_%s (id int PRIMARY KEY, v text)', i);
        EXECUTE format('INSERT INTO small_%s VALUES (1, %L)', i, 'x');
        IF i % 500 = 0 THEN COMMIT; END IF; END LOOP; END $$`);
      await settle(smallCluster);
      const smallBytes = await databaseBytes(smallCluster);
      out(`\n## small tables: ${opts.smallTables} one-row tables in a second server, its databases hold ${f1(smallBytes / MB)} MB (made in ${f1((Date.now() - t0) / 1000)} s)`);
    }
    await createSchema(cluster);
    for (const size of sizes) {
      const t0 = Date.now();
      const bytes = await growTo(cluster, size);
      await settle(cluster);
      actualMB.set(size, bytes / MB);
      out(`\n## data at ~${size} MB: databases hold ${f1(bytes / MB)} MB (generated in ${f1((Date.now() - t0) / 1000)} s)`);

      if (size === opts.scaleMB) {
        if (opts.warmup) {
          out('warm-up (not counted):');
          for (const tool of tools) await runOne(tool, 'plain', size, 'warm-up', false);
        }
        for (let r = 1; r <= opts.rounds; r++) {
          for (const mode of opts.modes) {
            for (const tool of tools) await runOne(tool, mode, size, `round ${r}/${opts.rounds}`);
          }
        }
      }
      if (opts.rssSizes.includes(size) && !(size === opts.scaleMB && opts.modes.includes('plain'))) {
        for (let r = 1; r <= opts.rssRounds; r++) {
          for (const tool of tools) await runOne(tool, 'plain', size, `rss ${r}/${opts.rssRounds}`);
        }
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) {
      await cluster.destroy();
      await smallCluster?.destroy();
      rmSync(work, { recursive: true, force: true });
    }
  }

  // ---- Report
  const pick = (tool: Tool, mode: Mode, size: number) => samples.filter((s) => s.tool === tool && s.mode === mode && s.sizeMB === size);
  const med = (ss: Sample[], f: (s: Sample) => number) => median(ss.map(f));
  const wallOf = (s: Sample) => s.wall;
  const cpuOf = (s: Sample) => s.user + s.sys;
  const rssOf = (s: Sample) => mbOf(s.maxrssKB);

  out(`\n## medians at ~${opts.scaleMB} MB (${f1(actualMB.get(opts.scaleMB) ?? NaN)} MB in the databases), ${opts.rounds} round(s); seconds, MB`);
  const hasTheirs = tools.includes('theirs');
  const header = hasTheirs
    ? ['mode', 'wall ours', 'wall theirs', 'ratio', 'cpu ours', 'cpu theirs', 'ratio', 'rss ours', 'rss theirs', 'MB/s ours', 'MB/s theirs', 'wall target']
    : ['mode', 'wall ours', 'cpu ours', 'rss ours', 'MB/s ours'];
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const mode of opts.modes) {
    const o = pick('ours', mode, opts.scaleMB);
    const t = pick('theirs', mode, opts.scaleMB);
    const ow = med(o, wallOf);
    const tw = med(t, wallOf);
    const oc = med(o, cpuOf);
    const tc = med(t, cpuOf);
    const or = med(o, rssOf);
    const tr = med(t, rssOf);
    const oMBs = med(o, (s) => s.outBytes / MB / s.wall);
    const tMBs = med(t, (s) => s.outBytes / MB / s.wall);
    const target = WALL_TARGET[mode];
    const cpuTarget = CPU_TARGET[mode];
    // Ratios pair by pair (round by round: ours and theirs ran back to back), median and min-max.
    const pairs = (f: (s: Sample) => number): number[] => o.slice(0, t.length).map((s, i) => ratio(f(s), f(t[i] as Sample)));
    const spread = (xs: number[]): string => `${f2(median(xs))}x (${f2(Math.min(...xs))}-${f2(Math.max(...xs))})`;
    const wallPairs = pairs(wallOf);
    const cpuPairs = pairs(cpuOf);
    const wr = median(wallPairs);
    const cr = median(cpuPairs);
    let targetCell = '-';
    if (hasTheirs) {
      targetCell = `<= ${target.toFixed(1)}x: ${wr <= target ? 'met' : 'NOT met'}`;
      verdicts.push(`${MODE_LABEL[mode]} wall ${spread(wallPairs)} vs target <= ${target.toFixed(1)}x: ${wr <= target ? 'met' : 'NOT met'}`);
      if (cpuTarget !== undefined) verdicts.push(`${MODE_LABEL[mode]} CPU ${spread(cpuPairs)} vs target <= ${cpuTarget.toFixed(1)}x: ${cr <= cpuTarget ? 'met' : 'NOT met'}`);
    }
    const maxRss = Math.max(...o.map(rssOf));
    verdicts.push(`${MODE_LABEL[mode]} peak RSS of ours ${f1(or)} MB (max ${f1(maxRss)}) vs target <= ${RSS_TARGET[mode]} MB: ${maxRss <= RSS_TARGET[mode] ? 'met' : 'NOT met'}`);
    rows.push(
      hasTheirs
        ? [MODE_LABEL[mode], f2(ow), f2(tw), spread(wallPairs), f2(oc), f2(tc), spread(cpuPairs), f1(or), f1(tr), f1(oMBs), f1(tMBs), targetCell]
        : [MODE_LABEL[mode], f2(ow), f2(oc), f1(or), f1(oMBs)],
    );
    if (hasTheirs) {
      const ob = med(o, (s) => s.outBytes);
      const tb = med(t, (s) => s.outBytes);
      if (Math.abs(ob - tb) > 0.05 * tb) out(`warning: ${mode}: ours wrote ${f1(ob / MB)} MB, theirs ${f1(tb / MB)} MB`);
    }
  }
  out(table(header, rows));

  out('\nclient-side detail (medians): user and sys CPU seconds, minor page faults, voluntary / involuntary context switches');
  const detailRows: string[][] = [];
  for (const mode of opts.modes) {
    for (const tool of tools) {
      const ss = pick(tool, mode, opts.scaleMB);
      const n0 = (x: number): string => (Number.isFinite(x) ? String(Math.round(x)) : 'n/a');
      detailRows.push([`${MODE_LABEL[mode]} ${tool}`, f2(med(ss, (s) => s.user)), f2(med(ss, (s) => s.sys)), n0(med(ss, (s) => s.minflt)), n0(med(ss, (s) => s.vcsw)), n0(med(ss, (s) => s.ivcsw))]);
    }
  }
  out(table(['mode / tool', 'user', 'sys', 'minflt', 'vcsw', 'ivcsw'], detailRows));

  out('\nper-run wall times (s), in run order:');
  for (const mode of opts.modes) {
    for (const tool of tools) out(`  ${mode.padEnd(6)} ${tool.padEnd(6)} ${pick(tool, mode, opts.scaleMB).map((s) => f2(s.wall)).join(' ')}`);
  }

  const maxOursRss = Math.max(...samples.filter((s) => s.tool === 'ours' && RSS_TARGET[s.mode] === RSS_TARGET_MB).map(rssOf));
  verdicts.push(`peak RSS of ours, max over all runs without compression: ${f1(maxOursRss)} MB vs target <= ${RSS_TARGET_MB} MB: ${maxOursRss <= RSS_TARGET_MB ? 'met' : 'NOT met'}`);

  if (opts.rssSizes.length > 0) {
    out('\n## peak RSS in plain format (-Xstream, fsync) by data size (median MB)');
    const rssRows: string[][] = [];
    const rssSizes = [...opts.rssSizes].sort((a, b) => a - b);
    for (const size of rssSizes) {
      const o = pick('ours', 'plain', size);
      const t = pick('theirs', 'plain', size);
      rssRows.push(
        hasTheirs
          ? [`~${size} MB (${f1(actualMB.get(size) ?? NaN)} MB)`, String(o.length), f1(med(o, rssOf)), f1(Math.max(...o.map(rssOf))), f1(med(t, rssOf)), f2(med(o, wallOf)), f2(med(t, wallOf))]
          : [`~${size} MB (${f1(actualMB.get(size) ?? NaN)} MB)`, String(o.length), f1(med(o, rssOf)), f1(Math.max(...o.map(rssOf))), f2(med(o, wallOf))],
      );
    }
    out(
      table(
        hasTheirs
          ? ['data size', 'runs', 'rss ours', 'rss ours max', 'rss theirs', 'wall ours', 'wall theirs']
          : ['data size', 'runs', 'rss ours', 'rss ours max', 'wall ours'],
        rssRows,
      ),
    );
    if (rssSizes.length >= 2) {
      const lo = rssSizes[0] as number;
      const hi = rssSizes[rssSizes.length - 1] as number;
      const rLo = med(pick('ours', 'plain', lo), rssOf);
      const rHi = med(pick('ours', 'plain', hi), rssOf);
      const growth = rHi - rLo;
      const flat = growth <= Math.max(4, 0.1 * rLo);
      verdicts.push(
        `peak RSS of ours from ~${lo} MB to ~${hi} MB of data: ${f1(rLo)} -> ${f1(rHi)} MB (${growth >= 0 ? '+' : ''}${f1(growth)} MB): ${flat ? 'flat' : 'GROWS with data size'}`,
      );
    }
  }

  out('\n## targets (reported, not asserted)');
  for (const v of verdicts) out(`- ${v}`);
  out(`\nload average at the end: ${loadavg().map(f2).join(' ')} (${cpus().length} CPU(s); other work on the machine affects wall times)`);

  if (opts.json) {
    writeFileSync(opts.json, `${JSON.stringify({ options: opts, server: serverVersion, theirs: theirsVersion || null, samples }, null, 2)}\n`);
    out(`raw samples written to ${opts.json}`);
  }
  if (!opts.noTools) await runToolsBench({ rounds: Math.min(opts.rounds, 3), scaleMB: opts.scaleMB });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
