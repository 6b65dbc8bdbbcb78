#!/usr/bin/env node
/**
 * `pg-basebackup-status DIR|FILE`: the state of a backup's completion marker (src/backup/marker-state.ts):
 * DIR's sibling `DIR.pg-basebackup-status.json`, or a marker file given itself (--status-file), printed
 * on stdout as one JSON line:
 *
 *   {"state":"complete","directory":"/backups/b1","status_file":"/backups/b1.pg-basebackup-status.json","directory_exists":true,"marker":{...}}
 *
 * Exit status: 0 only when the backup there is complete; 1 when it is in progress, failed, foreign
 * or missing; 2 for a usage error.  (A separate command because `pg_basebackup --status` would
 * clash with getopt's prefix matching of `--status-interval`.)
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readMarkerState } from '../backup/marker-state.js';
import { toolVersion } from '../backup/tool-version.js';

const NAME = 'pg-basebackup-status';

export function statusHelp(): string {
  return [
    `${NAME} reports whether a pg-basebackup backup directory holds a complete backup.`,
    '',
    'Usage:',
    `  ${NAME} DIRECTORY`,
    `  ${NAME} STATUS-FILE`,
    '',
    'Prints the state of the completion marker DIRECTORY.pg-basebackup-status.json (beside the',
    'directory), or of a marker file written with --status-file, as one JSON line: "state" is',
    '"complete", "in progress", "failed", "foreign" (a marker not written for this backup)',
    'or "missing"; "directory_exists" says whether the directory is still there.',
    '',
    'Exit status: 0 when complete, 1 otherwise, 2 on a usage error.',
    '',
    'Options:',
    '  -V, --version  print the version, then exit',
    '  -?, --help     print this help, then exit',
    '',
  ].join('\n');
}

export interface StatusIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export function statusMain(argv: readonly string[], io: StatusIo): number {
  const args = [...argv];
  const first = args[0];
  if (first === '--help' || first === '-?' || first === '-h') {
    io.out(statusHelp());
    return 0;
  }
  if (first === '--version' || first === '-V') {
    io.out(`${NAME} (pg-basebackup) ${toolVersion()}\n`);
    return 0;
  }
  if (args[0] === '--') args.shift();
  const usage = (msg: string): number => {
    io.err(`${NAME}: error: ${msg}\n${NAME}: hint: Try "${NAME} --help" for more information.\n`);
    return 2;
  };
  const dir = args[0];
  if (dir === undefined) return usage('no directory or status file specified');
  if (argv[0] !== '--' && dir.startsWith('-') && dir !== '-') return usage(`unrecognized option "${dir}"`);
  if (args.length > 1) return usage(`too many command-line arguments (first is "${args[1] as string}")`);
  const state = readMarkerState(dir);
  io.out(`${JSON.stringify(state)}\n`);
  return state.state === 'complete' ? 0 : 1;
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Run when executed (also through npm's bin symlink), not when imported by tests.
if (isMainModule()) {
  const code = statusMain(process.argv.slice(2), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  process.stdout.write('', () => process.exit(code));
}
