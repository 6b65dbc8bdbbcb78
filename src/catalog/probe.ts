/**
 * Before a backup: what the server is (IDENTIFY_SYSTEM on a replication connection, its version,
 * and on 17+ `SHOW summarize_wal`), to choose the parent of an incremental backup on the same system
 * and timeline and to refuse clearly when the server cannot take one.
 */
import { ConnectionFactory } from '../conn/connect.js';
import { identifySystem, showSetting } from '../protocol/commands.js';
import type { ConnectionArgs } from './options.js';

export interface ServerFacts {
  systemIdentifier: string;
  timeline: number;
  serverVersionNum: number;
  /** null before 17 (no WAL summaries). */
  summarizeWal: boolean | null;
}

export function connectionFactory(
  c: ConnectionArgs,
  env: NodeJS.ProcessEnv,
  askPassword?: (prompt: string) => Promise<string>,
  kind: 'replication' | 'sql' = 'replication',
): ConnectionFactory {
  return new ConnectionFactory(
    {
      connInfo: c.dbname,
      host: c.host,
      port: c.port,
      user: c.user,
      passwordMode: c.passwordMode,
      replication: kind === 'replication' ? 'true' : undefined,
      fallbackApplicationName: 'pg-basebackup-catalog',
      keepExplicitDbname: true,
    },
    { env, ...(askPassword ? { promptPassword: askPassword } : {}) },
  );
}

export async function probeServer(
  c: ConnectionArgs,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
  askPassword?: (prompt: string) => Promise<string>,
): Promise<ServerFacts> {
  const conn = await connectionFactory(c, env, askPassword).connect({ signal });
  try {
    const sys = await identifySystem(conn);
    const v = conn.serverVersionNum;
    const summarizeWal = v >= 170000 ? (await showSetting(conn, 'summarize_wal')) === 'on' : null;
    return { systemIdentifier: sys.systemId, timeline: sys.timeline, serverVersionNum: v, summarizeWal };
  } finally {
    await conn.close().catch(() => undefined);
  }
}

export interface ServerTablespace {
  oid: string;
  location: string;
}

/**
 * The server's tablespaces outside its data directory, read with SQL on an ordinary connection (a
 * replication connection cannot list them before BASE_BACKUP): each is mapped into the catalog (-T)
 * so that a plain backup never writes to the tablespaces' own paths on this host.
 */
export async function listTablespaces(
  c: ConnectionArgs,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
  askPassword?: (prompt: string) => Promise<string>,
): Promise<ServerTablespace[]> {
  const conn = await connectionFactory(c, env, askPassword, 'sql').connect({ signal });
  try {
    const results = await conn.simpleQuery(
      "SELECT oid::text, pg_catalog.pg_tablespace_location(oid) FROM pg_catalog.pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY oid",
    );
    const rows = results[0]?.rows ?? [];
    return rows
      .map((r) => ({ oid: r[0] ?? '', location: r[1] ?? '' }))
      .filter((t) => t.location.startsWith('/')); // in-place tablespaces live inside the data directory
  } finally {
    await conn.close().catch(() => undefined);
  }
}
