#!/usr/bin/env node
/**
 * The pg_combinebackup command.  The one error boundary: every failure is printed with pg's wording
 * (then the output directories are cleaned up, as pg's exit handler does) and exits 1; --help and
 * --version exit 0.
 */
import { toolVersion } from '../backup/tool-version.js';
import { combineBackupsAsync } from './combine.js';
import { combineHelpText, combineVersionText } from './help.js';
import { CombineMarker } from './marker.js';
import { parseCombineCommandLine } from './options.js';
import { countFinalBackupFiles, CombineProgress } from './progress.js';
import { formatCombineError, stderrCombineLogger } from './report.js';
import { isTarFormatBackup } from './tar-detect.js';

export async function main(argv: string[]): Promise<number> {
  const write = (t: string) => {
    process.stderr.write(t);
  };
  let debug = false;
  const log = stderrCombineLogger(write, () => debug);
  let reported = false;
  let marker: CombineMarker | undefined;
  try {
    const parsed = parseCombineCommandLine(argv);
    if (parsed.kind === 'help') {
      process.stdout.write(combineHelpText());
      return 0;
    }
    if (parsed.kind === 'version') {
      process.stdout.write(`${combineVersionText(toolVersion())}\n`);
      return 0;
    }
    const o = parsed.options;
    debug = o.debug;
    if (!o.dryRun && !o.noStatusFile) marker = new CombineMarker(o.output, o.inputs, o.noSync);
    const m = marker;
    // Beyond pg: tar-format inputs are spooled into plain directories first.
    // (loaded only when needed: the archive chain and its codecs take a while to load)
    const prepared = o.inputs.some(isTarFormatBackup)
      ? await (await import('./tar-inputs.js')).prepareTarInputs(o.inputs, o.output, o.tablespaceMappings, log)
      : { dirs: o.inputs, mappings: o.tablespaceMappings, cleanup: () => undefined };
    try {
      const finalDir = prepared.dirs[prepared.dirs.length - 1] as string;
      const progress = o.progress ? new CombineProgress(safeCount(finalDir), write, process.stderr.isTTY === true) : undefined;
      const result = await combineBackupsAsync({ ...o, inputs: prepared.dirs, tablespaceMappings: prepared.mappings }, log, {
        onOutputReady: (fileMode) => m?.begin(fileMode),
        onFile: (n) => progress?.file(n),
        onError: (err) => {
          reported = true;
          write(formatCombineError(err));
        },
      });
      progress?.finish();
      marker?.complete(result);
    } finally {
      prepared.cleanup();
    }
    return 0;
  } catch (err) {
    if (!reported) write(formatCombineError(err));
    try {
      marker?.fail(err);
    } catch (e) {
      write(formatCombineError(e));
    }
    return 1;
  }
}

/** The file count for -P; 0 when the directory cannot be read (the run then reports why). */
function safeCount(dir: string): number {
  try {
    return countFinalBackupFiles(dir);
  } catch {
    return 0;
  }
}

const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
