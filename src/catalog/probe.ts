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

export function connectionFactory(c: ConnectionArgs, env: NodeJS.ProcessEnv, askPassword?: (prompt: string) => Promise<string>): ConnectionFactory {
  return new ConnectionFactory(
    {
      connInfo: c.dbname,
      host: c.host,
      port: c.port,
      user: c.user,
      passwordMode: c.passwordMode,
      replication: 'true',
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
