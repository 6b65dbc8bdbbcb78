/**
 * The completion marker of a combined backup (beyond pg), beside the output directory like
 * pg_basebackup's (`OUT.pg-basebackup-status.json`, same writer, same atomic replace): "in progress"
 * once the output directory is there, "complete" after the final sync, "failed" (with the error)
 * after a failure, also when cleanup removed the directory.  `pg-basebackup-status OUT` reads it;
 * `command` tells it from a base backup's marker.
 */
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { CompletionMarker, MARKER_FORMAT_VERSION, statusFileFor } from '../backup/completion-marker.js';
import { toolVersion } from '../backup/tool-version.js';
import { PgBasebackupError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import { randomUuid } from '../random-uuid.js';
import type { CombineResult } from './combine.js';

export class CombineMarker {
  private readonly identity: Record<string, unknown>;
  private fileMode = 0o600;
  private written = false;

  constructor(private readonly output: string, inputs: readonly string[], private readonly noSync: boolean) {
    this.identity = {
      format_version: MARKER_FORMAT_VERSION,
      run_id: randomUuid(),
      tool: 'pg-basebackup',
      tool_version: toolVersion(),
      command: 'pg_combinebackup',
      pid: process.pid,
      host: hostname(),
      target: resolve(output),
      status_file: statusFileFor(output),
      inputs: inputs.map((i) => resolve(i)),
      started_at: new Date().toISOString(),
    };
  }

  get path(): string {
    return this.identity['status_file'] as string;
  }

  begin(fileMode: number): void {
    this.fileMode = fileMode;
    try {
      this.identity['target'] = realpathSync(this.output);
    } catch {
      /* keep the resolved path */
    }
    this.write({ status: 'in progress', ...this.identity });
  }

  complete(r: CombineResult): void {
    this.write({
      status: 'complete',
      ...this.identity,
      finished_at: new Date().toISOString(),
      system_identifier: String(r.systemIdentifier),
      pg_control_version: r.pgControlVersion,
      start_lsn: formatLsn(r.startLsn),
      timeline: r.timeline,
      files: r.files,
      bytes: r.bytes,
      tablespaces: r.tablespaces.map((t) => ({ oid: String(t.oid), location: t.inPlace ? null : t.oldDir, mapped_location: t.inPlace ? null : t.newDir })),
      manifest: r.manifest,
    });
  }

  /** After a failure: only if "in progress" was written (the output directory existed). */
  fail(err: unknown): void {
    if (!this.written) return;
    const code = err instanceof PgBasebackupError ? err.code : 'PGBB_INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    this.write({ status: 'failed', ...this.identity, finished_at: new Date().toISOString(), error: { code, message, sqlstate: null } });
  }

  private write(record: { status: string } & Record<string, unknown>): void {
    CompletionMarker.writeRecord(this.path, record, { fileMode: this.fileMode, noSync: this.noSync });
    this.written = true;
  }
}
