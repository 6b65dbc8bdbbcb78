/**
 * The verifier and the combiner, in this process: src/verify (pg_verifybackup) and src/combine
 * (pg_combinebackup) driven with the command lines a user would give them, their messages collected
 * (pg's wording, prefixed with the tool's name) instead of printed.
 */
import { combineBackups as runCombine } from '../combine/combine.js';
import { parseCombineCommandLine } from '../combine/options.js';
import { formatCombineError, stderrCombineLogger } from '../combine/report.js';
import { PgBasebackupError } from '../errors.js';
import { parseVerifyCommandLine, VERIFY_PROGNAME } from '../verify/options.js';
import { VerifyExit } from '../verify/report.js';
import { runVerify } from '../verify/run.js';
import { CatalogError } from './catalog-error.js';

export interface ToolOutcome {
  ok: boolean;
  /** The tool's message lines, without empty lines. */
  messages: string[];
}

function collector(): { write: (t: string) => void; lines: () => string[] } {
  const chunks: string[] = [];
  return {
    write: (t) => void chunks.push(t),
    lines: () => chunks.join('').split('\n').filter((l) => l.trim() !== ''),
  };
}

/** pg_verifybackup DIR: the backup's files against its manifest, and its WAL. */
export async function verifyBackupDir(dir: string): Promise<ToolOutcome> {
  const parsed = parseVerifyCommandLine([dir], {});
  if (parsed.kind !== 'run') throw new CatalogError(`could not verify "${dir}"`, { code: 'PGBB_INTERNAL' });
  const out = collector();
  let status: number;
  try {
    status = await runVerify(parsed.options, { stdout: out.write, stderr: out.write, stderrIsTty: false });
  } catch (e) {
    if (e instanceof VerifyExit) status = e.status;
    else if (e instanceof PgBasebackupError) {
      out.write(`${VERIFY_PROGNAME}: error: ${e.message}\n${e.detail.map((d) => `${VERIFY_PROGNAME}: detail: ${d}\n`).join('')}`);
      status = 1;
    } else throw e;
  }
  return { ok: status === 0, messages: out.lines() };
}

export interface TablespaceMappingArg {
  oldDir: string;
  newDir: string;
}

/**
 * pg_combinebackup -o OUTPUT [-T OLD=NEW]... DIRS (oldest first).  On failure the output is removed
 * (as pg_combinebackup does) and the messages say why.  Synchronous inside: signals wait until it ends.
 */
export async function combineBackups(dirs: readonly string[], output: string, mappings: readonly TablespaceMappingArg[]): Promise<ToolOutcome> {
  const esc = (d: string) => d.replace(/=/g, '\\=');
  const args = ['-o', output, ...mappings.flatMap((m) => ['-T', `${esc(m.oldDir)}=${esc(m.newDir)}`]), '--', ...dirs];
  const out = collector();
  let reported = false;
  try {
    const parsed = parseCombineCommandLine(args, { posixlyCorrect: false });
    if (parsed.kind !== 'run') throw new CatalogError('could not combine backups', { code: 'PGBB_INTERNAL' });
    runCombine(parsed.options, stderrCombineLogger(out.write, () => false), {
      onError: (err) => {
        reported = true;
        out.write(formatCombineError(err));
      },
    });
    return { ok: true, messages: out.lines() };
  } catch (err) {
    if (!reported) out.write(formatCombineError(err));
    return { ok: false, messages: out.lines() };
  }
}
