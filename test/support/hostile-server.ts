/**
 * A hostile walsender for tests: a small fake PostgreSQL 15+ server speaking enough of the
 * replication protocol for pg_basebackup (startup with trust authentication, SHOW, IDENTIFY_SYSTEM,
 * BASE_BACKUP's result sets and its CopyOut stream of 'n'/'d'/'m'/'p' messages, as in
 * doc/src/sgml/protocol.sgml and basebackup_copy.c) that sends whatever a test scripts: escaping tar
 * members, unannounced tablespaces, lying sizes and frames, errors with or without ReadyForQuery,
 * stalls.  It listens on a unix socket (`-h dir -p port`) and on 127.0.0.1 (TCP).
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTarHeader, tarChecksum, tarPaddingBytes, writeTarNumber } from '../../src/archive/tar-header.js';
import type { TarMember } from '../../src/archive/streamer.js';

// ---- wire encoding -------------------------------------------------------------------------------

export function frame(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([h, body]);
}
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export const msg = {
  authOk: () => frame('R', i32(0)),
  parameterStatus: (k: string, v: string) => frame('S', Buffer.concat([cstr(k), cstr(v)])),
  backendKeyData: () => frame('K', Buffer.concat([i32(4242), i32(1234)])),
  readyForQuery: () => frame('Z', Buffer.from('I')),
  rowDescription: (names: string[]) =>
    frame('T', Buffer.concat([i16(names.length), ...names.map((n) => Buffer.concat([cstr(n), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0)]))])),
  dataRow: (values: (string | null)[]) =>
    frame('D', Buffer.concat([i16(values.length), ...values.map((v) => (v === null ? i32(-1) : Buffer.concat([i32(Buffer.byteLength(v)), Buffer.from(v)])))])),
  commandComplete: (tag: string) => frame('C', cstr(tag)),
  copyOutResponse: () => frame('H', Buffer.concat([Buffer.from([0]), i16(0)])),
  copyData: (payload: Buffer) => frame('d', payload),
  copyDone: () => frame('c'),
  error: (message: string, code = 'XX000', severity = 'ERROR') =>
    frame('E', Buffer.concat([Buffer.from('S'), cstr(severity), Buffer.from('V'), cstr(severity), Buffer.from('C'), cstr(code), Buffer.from('M'), cstr(message), Buffer.from([0])])),
};

/** A whole result set. */
export function resultSet(names: string[], rows: (string | null)[][], tag = 'SELECT'): Buffer {
  return Buffer.concat([msg.rowDescription(names), ...rows.map((r) => msg.dataRow(r)), msg.commandComplete(tag)]);
}

// ---- the COPY stream's messages (ReceiveArchiveStreamChunk) -------------------------------------

export const copy = {
  /** 'n': a new archive. */
  archive: (name: string, location = '') => msg.copyData(Buffer.concat([Buffer.from('n'), cstr(name), cstr(location)])),
  /** 'd': archive (or manifest) bytes, split into 32 kB messages as the server does. */
  data: (bytes: Buffer) => {
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 32768) out.push(msg.copyData(Buffer.concat([Buffer.from('d'), bytes.subarray(i, i + 32768)])));
    return Buffer.concat(out);
  },
  manifest: () => msg.copyData(Buffer.from('m')),
  progress: (done: bigint) => {
    const b = Buffer.alloc(9);
    b.write('p', 0, 'latin1');
    b.writeBigUInt64BE(done, 1);
    return msg.copyData(b);
  },
};

// ---- tar building ------------------------------------------------------------------------------

export interface Member {
  name: string;
  type?: TarMember['type'];
  data?: Buffer | string;
  linkTarget?: string;
  mode?: number;
  /** Raw typeflag byte (e.g. '1' for a hard link), overriding `type`. */
  typeflag?: string;
  /** The size the header claims (default: the data's). */
  claimedSize?: number;
  /** Raw bytes of the 100-byte name field (e.g. with a NUL inside). */
  rawName?: Buffer;
  /** Leave the header checksum wrong. */
  badChecksum?: boolean;
}

export function tarHeader(m: Member): Buffer {
  const data = m.data === undefined ? Buffer.alloc(0) : Buffer.from(m.data);
  const h = encodeTarHeader({
    name: m.name,
    size: m.claimedSize ?? data.length,
    mode: m.mode ?? (m.type === 'directory' ? 0o700 : 0o600),
    uid: 1000,
    gid: 1000,
    mtime: 1700000000,
    type: m.type ?? 'file',
    linkTarget: m.linkTarget ?? '',
  });
  if (m.rawName !== undefined) {
    h.fill(0, 0, 100);
    m.rawName.copy(h, 0, 0, Math.min(100, m.rawName.length));
  }
  if (m.typeflag !== undefined) {
    h.write(m.typeflag, 156, 'latin1');
    if (m.linkTarget !== undefined) {
      h.fill(0, 157, 257);
      h.write(m.linkTarget, 157, 'utf8');
    }
  }
  writeTarNumber(h, 148, 8, tarChecksum(h));
  if (m.badChecksum) writeTarNumber(h, 148, 8, tarChecksum(h) + 1);
  return h;
}

/** A tar archive of `members` (with the two closing zero blocks unless `unterminated`). */
export function tar(members: Member[], opts: { unterminated?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = m.data === undefined ? Buffer.alloc(0) : Buffer.from(m.data);
    parts.push(tarHeader(m), data, Buffer.alloc(tarPaddingBytes(data.length)));
  }
  if (!opts.unterminated) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** What a small, honest base archive holds. */
export function baseMembers(): Member[] {
  return [
    { name: 'backup_label', data: 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n' },
    { name: 'PG_VERSION', data: '15\n' },
    { name: 'global', type: 'directory' },
    { name: 'global/pg_control', data: Buffer.alloc(8192, 1) },
    { name: 'pg_wal', type: 'directory' },
    { name: 'pg_wal/archive_status', type: 'directory' },
  ];
}

export const MANIFEST = '{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [],\n"Manifest-Checksum": "0" }\n';

// ---- the server --------------------------------------------------------------------------------

export const BASE_ROW: (string | null)[] = [null, null, '100'];

/** How one connection behaves; every part has an honest default. */
export interface Script {
  /** Rows of the tablespace result set: [oid, location, size]; default one row for the base directory. */
  tablespaces?: (string | null)[][];
  /** CopyData etc. sent after CopyOutResponse (default: base.tar with baseMembers(), then a manifest). */
  copyStream?: Buffer[];
  /** After the copy stream: 'normal' (CopyDone, end position, CommandComplete, ReadyForQuery), or a custom ending. */
  ending?: Buffer[] | 'normal';
  /** Then: keep the socket open ('hold') or close it (default for custom endings: hold). */
  after?: 'hold' | 'close';
  /** Milliseconds to wait before answering BASE_BACKUP (a checkpoint that takes time). */
  checkpointDelayMs?: number;
  /** Replaces the whole BASE_BACKUP response (bytes written as they are). */
  rawResponse?: Buffer[];
}

export function normalCopyStream(members = baseMembers()): Buffer[] {
  return [copy.archive('base.tar'), copy.data(tar(members)), copy.manifest(), copy.data(Buffer.from(MANIFEST))];
}

export function normalEnding(): Buffer[] {
  return [msg.copyDone(), resultSet(['recptr', 'tli'], [['0/2000100', '1']]), msg.commandComplete('BASE_BACKUP'), msg.readyForQuery()];
}

export class HostileServer {
  readonly dir: string;
  readonly port: number;
  private readonly servers: Server[];
  private readonly sockets = new Set<Socket>();
  /** SQL received, in order (for assertions). */
  readonly queries: string[] = [];
  script: Script = {};
  /** CancelRequests received. */
  cancelRequests = 0;
  /** How long a CancelRequest takes to be processed (a stop then takes at least this long). */
  cancelDelayMs = 0;

  private constructor(dir: string, port: number, servers: Server[]) {
    this.dir = dir;
    this.port = port;
    this.servers = servers;
  }

  static async start(): Promise<HostileServer> {
    const dir = mkdtempSync(join(tmpdir(), 'pgbb-hostile-'));
    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const port = (tcp.address() as { port: number }).port;
    const unix = createServer();
    await new Promise<void>((r) => unix.listen(join(dir, `.s.PGSQL.${port}`), () => r()));
    const s = new HostileServer(dir, port, [tcp, unix]);
    for (const srv of [tcp, unix]) srv.on('connection', (sock) => void s.serve(sock));
    return s;
  }

  /** -h <socket dir> -p <port> -U postgres */
  args(): string[] {
    return ['-h', this.dir, '-p', String(this.port), '-U', 'postgres'];
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async serve(sock: Socket): Promise<void> {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    const script = this.script;
    let buf = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    let closed = false;
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      wake?.();
    });
    sock.on('close', () => {
      closed = true;
      wake?.();
    });
    const need = async (n: number) => {
      while (buf.length < n) {
        if (closed) throw new Error('client closed');
        await new Promise<void>((r) => (wake = r));
      }
    };
    const take = (n: number) => {
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    };
    const write = (b: Buffer) => {
      if (!sock.destroyed) sock.write(b);
    };
    try {
      // Startup (SSLRequest answered 'N'; a CancelRequest only closes).
      let packet: Buffer;
      for (;;) {
        await need(8);
        const len = buf.readInt32BE(0);
        await need(len);
        packet = take(len);
        if (packet.readInt32BE(4) !== 80877103) break;
        write(Buffer.from('N'));
      }
      if (packet.readInt32BE(4) !== 196608) {
        this.cancelRequests++;
        // A CancelRequest: the postmaster closes the socket once it has processed it.
        if (this.cancelDelayMs > 0) await new Promise((r) => setTimeout(r, this.cancelDelayMs));
        sock.end();
        return;
      }
      write(Buffer.concat([
        msg.authOk(),
        msg.parameterStatus('server_version', '15.4'),
        msg.parameterStatus('server_encoding', 'UTF8'),
        msg.parameterStatus('client_encoding', 'UTF8'),
        msg.parameterStatus('integer_datetimes', 'on'),
        msg.backendKeyData(),
        msg.readyForQuery(),
      ]));
      for (;;) {
        await need(5);
        const type = String.fromCharCode(buf[0] as number);
        const l = buf.readInt32BE(1);
        await need(1 + l);
        const body = take(1 + l).subarray(5);
        if (type === 'X') {
          sock.end();
          return;
        }
        if (type !== 'Q') continue;
        const sql = body.subarray(0, body.length - 1).toString('utf8');
        this.queries.push(sql);
        await this.answer(sql, script, write, sock);
      }
    } catch {
      /* client went away */
    }
  }

  private async answer(sql: string, script: Script, write: (b: Buffer) => void, sock: Socket): Promise<void> {
    if (sql === 'SHOW data_directory_mode') return write(Buffer.concat([resultSet(['data_directory_mode'], [['0700']], 'SHOW'), msg.readyForQuery()]));
    if (sql === 'SHOW wal_segment_size') return write(Buffer.concat([resultSet(['wal_segment_size'], [['16MB']], 'SHOW'), msg.readyForQuery()]));
    if (sql === 'IDENTIFY_SYSTEM') {
      return write(Buffer.concat([resultSet(['systemid', 'timeline', 'xlogpos', 'dbname'], [['7300000000000000001', '1', '0/2000100', null]], 'IDENTIFY_SYSTEM'), msg.readyForQuery()]));
    }
    if (sql.startsWith('BASE_BACKUP')) {
      if (script.checkpointDelayMs) await new Promise((r) => setTimeout(r, script.checkpointDelayMs));
      if (script.rawResponse !== undefined) {
        for (const b of script.rawResponse) write(b);
        return this.finish(script, sock, 'hold');
      }
      write(resultSet(['recptr', 'tli'], [['0/2000028', '1']]));
      write(resultSet(['spcoid', 'spclocation', 'size'], script.tablespaces ?? [BASE_ROW]));
      write(msg.copyOutResponse());
      for (const b of script.copyStream ?? normalCopyStream()) write(b);
      if (script.ending === undefined || script.ending === 'normal') {
        for (const b of normalEnding()) write(b);
        return undefined;
      }
      for (const b of script.ending) write(b);
      return this.finish(script, sock, 'hold');
    }
    return write(Buffer.concat([msg.error(`hostile server: unexpected command "${sql}"`, '42601'), msg.readyForQuery()]));
  }

  /** A scripted ending: hold the connection open forever (until the client goes), or close it. */
  private async finish(script: Script, sock: Socket, dflt: 'hold' | 'close'): Promise<void> {
    if ((script.after ?? dflt) === 'close') sock.end();
    else await new Promise<void>((r) => sock.once('close', () => r()));
    throw new Error('done');
  }
}

// ---- the sandbox around the target directories -------------------------------------------------

/**
 * A digest of everything under `root` (names, types, modes, sizes, contents, link targets), leaving
 * out the paths in `skip` (the target directories themselves).  Equal before and after a run: nothing
 * outside the targets changed.
 */
export function treeDigest(root: string, skip: readonly string[] = []): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (skip.includes(p)) continue;
      const st = lstatSync(p);
      h.update(`${p}\0${st.mode.toString(8)}\0${st.size}\0${st.nlink}\0`);
      if (st.isSymbolicLink()) h.update(`->${readlinkSync(p)}\0`);
      else if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}
