/**
 * `--help` and `--version` output.  The help has pg_basebackup 17's layout: the same sections, options in
 * the same order with the same argument names, descriptions starting at column 26 (on a line of their own
 * after a long option); the descriptions are worded for this project.
 */

const PROGNAME = 'pg_basebackup';
const COLUMN = 25;

/** One help entry: the option text after the two-space indent, and its description lines. */
type Entry = readonly [option: string, ...description: string[]];

const SECTIONS: ReadonlyArray<readonly [title: string, entries: readonly Entry[]]> = [
  [
    'Options controlling the output:',
    [
      ['-D, --pgdata=DIRECTORY', 'write the base backup into this directory'],
      ['-F, --format=p|t', 'output format: plain (default) or tar'],
      ['-i, --incremental=OLDMANIFEST', 'make an incremental backup on top of that manifest'],
      ['-r, --max-rate=RATE', 'upper limit on the data directory transfer rate', '(in kB/s, or with suffix "k" or "M")'],
      ['-R, --write-recovery-conf', 'write the settings needed for replication'],
      ['    --recovery-conf-without-password', 'leave the password out of what -R writes'],
      ['-t, --target=TARGET[:DETAIL]', 'where the backup goes, if not to this client'],
      ['-T, --tablespace-mapping=OLDDIR=NEWDIR', 'move the tablespace at OLDDIR to NEWDIR'],
      ['    --waldir=WALDIR', 'put the write-ahead log directory here'],
      ['-X, --wal-method=none|fetch|stream', 'how to include the WAL files the backup needs'],
      ['-z, --gzip', 'gzip-compress the tar output'],
      ['-Z, --compress=[{client|server}-]METHOD[:DETAIL]', 'compress on the client or on the server, as given'],
      ['-Z, --compress=none', 'leave the tar output uncompressed'],
    ],
  ],
  [
    'General options:',
    [
      ['-c, --checkpoint=fast|spread', 'request a fast or a spread (default) checkpoint'],
      ['-C, --create-slot', 'create the replication slot'],
      ['-l, --label=LABEL', 'label for the backup'],
      ['-n, --no-clean', 'leave files in place after an error'],
      ['-N, --no-sync', 'do not wait until the data is safely on disk'],
      ['-P, --progress', 'report progress'],
      ['-S, --slot=SLOTNAME', 'replication slot to stream WAL through'],
      ['-v, --verbose', 'print verbose messages'],
      ['-V, --version', 'print the version, then exit'],
      ['    --manifest-checksums=SHA{224,256,384,512}|CRC32C|NONE', 'checksum algorithm for the backup manifest'],
      ['    --manifest-force-encode', 'hex-encode every file name in the manifest'],
      ['    --no-estimate-size', 'skip the server-side backup size estimate'],
      ['    --no-manifest', 'do not have a backup manifest made'],
      ['    --no-slot', 'do not create a temporary replication slot'],
      ['    --no-verify-checksums', 'skip the verification of page checksums'],
      ['    --sync-method=METHOD', 'how to sync files to disk'],
      ['    --json-events=DEST', 'write progress and result as JSON lines', 'to DEST: stderr, fd:N or a file'],
      ['    --status-file=PATH', 'write the completion marker to PATH', '(default: DIRECTORY.pg-basebackup-status.json)'],
      ['    --no-status-file', 'do not write a completion marker'],
      ['    --verify', 'verify files and WAL against the manifest while receiving'],
      ['-?, --help', 'print this help, then exit'],
    ],
  ],
  [
    'Connection options:',
    [
      ['-d, --dbname=CONNSTR', 'connection string'],
      ['-h, --host=HOSTNAME', 'server host name or socket directory'],
      ['-p, --port=PORT', 'server port number'],
      ['-s, --status-interval=INTERVAL', 'seconds between status packets sent to the server'],
      ['-U, --username=NAME', 'user name to connect as'],
      ['-w, --no-password', 'never ask for a password'],
      ['-W, --password', 'always ask for a password (normally asked when needed)'],
    ],
  ],
];

function formatEntry([option, ...description]: Entry): string {
  const head = `  ${option}`;
  const pad = ' '.repeat(COLUMN);
  const [firstLine, ...more] = description;
  const lines =
    head.length < COLUMN ? [`${head.padEnd(COLUMN)}${firstLine ?? ''}`] : [head, `${pad}${firstLine ?? ''}`];
  for (const line of more) lines.push(`${pad}${line}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The text `pg_basebackup --help` writes to stdout. */
export function helpText(): string {
  let out = `${PROGNAME} takes a base backup of a running PostgreSQL server.\n\n`;
  out += 'Usage:\n';
  out += `  ${PROGNAME} [OPTION]...\n`;
  for (const [title, entries] of SECTIONS) {
    out += `\n${title}\n`;
    for (const entry of entries) out += formatEntry(entry);
  }
  out += '\nReport bugs to the pg-basebackup issue tracker.\n';
  return out;
}

/** The line `pg_basebackup --version` writes (without the newline). */
export function versionText(version: string): string {
  return `${PROGNAME} (pg-basebackup) ${version}`;
}
