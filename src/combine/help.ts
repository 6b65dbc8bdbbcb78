/**
 * `pg_combinebackup --help` and `--version`.  The help has PostgreSQL 18's layout (the same options in
 * the same order, with the same argument names, descriptions at column 29); the descriptions are
 * worded for this project.
 */
import { COMBINE_PROGNAME } from './report.js';

const COLUMN = 28;

type Entry = readonly [option: string, ...description: string[]];

const ENTRIES: readonly Entry[] = [
  ['-d, --debug', 'print many debugging messages'],
  ['-k, --link', 'hard-link files instead of copying them'],
  ['-n, --dry-run', 'check and plan everything, write nothing'],
  ['-N, --no-sync', 'do not wait until the output is safely on disk'],
  ['-o, --output=DIRECTORY', 'write the combined backup here'],
  ['-P, --progress', 'report progress (files and bytes written)'],
  ['-T, --tablespace-mapping=OLDDIR=NEWDIR', 'move the tablespace at OLDDIR to NEWDIR'],
  ['    --clone', 'clone (reflink) files instead of copying them'],
  ['    --copy', 'copy files (the default)'],
  ['    --copy-file-range', 'copy with the copy_file_range() system call'],
  ['    --manifest-checksums=SHA{224,256,384,512}|CRC32C|NONE', 'checksum algorithm for the backup manifest'],
  ['    --no-manifest', 'do not write a backup manifest'],
  ['    --sync-method=METHOD', 'how to sync files to disk'],
  ['    --no-status-file', 'do not write a completion marker beside DIRECTORY'],
  ['-V, --version', 'print the version, then exit'],
  ['-?, --help', 'print this help, then exit'],
];

function formatEntry([option, ...description]: Entry): string {
  const head = `  ${option}`;
  const pad = ' '.repeat(COLUMN);
  const [firstLine, ...more] = description;
  const lines = head.length < COLUMN ? [`${head.padEnd(COLUMN)}${firstLine ?? ''}`] : [head, `${pad}${firstLine ?? ''}`];
  for (const line of more) lines.push(`${pad}${line}`);
  return lines.map((l) => `${l}\n`).join('');
}

export function combineHelpText(): string {
  let out = `${COMBINE_PROGNAME} reconstructs full backups from incremental ones.\n\n`;
  out += 'Usage:\n';
  out += `  ${COMBINE_PROGNAME} [OPTION]... DIRECTORY...\n`;
  out += '\nOptions:\n';
  for (const e of ENTRIES) out += formatEntry(e);
  out += '\nReport bugs to the pg-basebackup issue tracker.\n';
  return out;
}

export function combineVersionText(version: string): string {
  return `${COMBINE_PROGNAME} (pg-basebackup) ${version}`;
}
