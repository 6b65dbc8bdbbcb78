/**
 * The verifier and the combiner, as the catalog uses them.  Until src/verify and src/combine export
 * in-process entry points, each runs as its built command line (`node dist/verify/main.js`,
 * `node dist/combine/main.js`, siblings of this module in dist/): the exit status decides, and the
 * tool's own messages (pg_verifybackup's, pg_combinebackup's wording) are passed on.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CatalogError } from './catalog-error.js';

export interface ToolOutcome {
  ok: boolean;
  /** The tool's output lines (stderr, then stdout), without empty lines. */
  messages: string[];
}

function toolPath(relative: string, name: string): string {
  const p = fileURLToPath(new URL(relative, import.meta.url));
  if (!existsSync(p)) throw new CatalogError(`could not find ${name} at "${p}"`, { code: 'PGBB_INTERNAL', hint: 'Run "npm run build".' });
  return p;
}

function runNode(script: string, args: string[], signal: AbortSignal | undefined): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8') }));
  });
}

const lines = (t: string) => t.split('\n').filter((l) => l.trim() !== '');

/** pg_verifybackup DIR: the backup's files against its manifest, and its WAL. */
export async function verifyBackupDir(dir: string, signal?: AbortSignal): Promise<ToolOutcome> {
  const r = await runNode(toolPath('../verify/main.js', 'pg_verifybackup'), [dir], signal);
  return { ok: r.status === 0, messages: [...lines(r.err), ...lines(r.out)] };
}

export interface TablespaceMappingArg {
  oldDir: string;
  newDir: string;
}

/** pg_combinebackup -o OUTPUT [-T OLD=NEW]... DIRS (oldest first).  Throws CatalogError with its messages on failure. */
export async function combineBackups(dirs: readonly string[], output: string, mappings: readonly TablespaceMappingArg[], signal?: AbortSignal): Promise<ToolOutcome> {
  const esc = (d: string) => d.replace(/=/g, '\\=');
  const args = ['-o', output, ...mappings.flatMap((m) => ['-T', `${esc(m.oldDir)}=${esc(m.newDir)}`]), '--', ...dirs];
  const r = await runNode(toolPath('../combine/main.js', 'pg_combinebackup'), args, signal);
  return { ok: r.status === 0, messages: [...lines(r.err), ...lines(r.out)] };
}
