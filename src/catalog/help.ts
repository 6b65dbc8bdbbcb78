/** `pg-basebackup-catalog --help`. */
import { CATALOG_PROGNAME as P } from './catalog-error.js';

export function catalogHelpText(): string {
  return `${P} keeps full and incremental base backups of a PostgreSQL server in a catalog directory.

Usage:
  ${P} init -B DIR [CONNECTION OPTION]... [--keep-full=N] [--keep-days=N] [--expire-after-backup]
  ${P} backup -B DIR [--full | --incremental] [CONNECTION OPTION]... [BACKUP OPTION]...
  ${P} show -B DIR [ID] [--json]
  ${P} validate -B DIR [ID | --all]
  ${P} restore -B DIR {ID | latest} -D TARGET [-T OLDDIR=NEWDIR]... [-R]
  ${P} delete -B DIR ID [--cascade] [--dry-run]
  ${P} delete -B DIR --expired [--keep-full=N] [--keep-days=N] [--dry-run]

Options:
  -B, --backup-path=DIR    the catalog directory
      --full               take a full backup (the default)
      --incremental        take an incremental backup from the newest valid backup
                           of the server's system and timeline (PostgreSQL 17+,
                           summarize_wal = on)
      --json               show: one JSON array
      --all                validate: every backup (default: those not validated yet;
                           with an ID: its chain)
  -D, --pgdata=TARGET      restore: the directory to restore into
  -T, --tablespace-mapping=OLDDIR=NEWDIR
                           restore: put the tablespace in OLDDIR into NEWDIR
  -R, --write-recovery-conf
                           restore: write standby.signal and primary_conninfo
      --cascade            delete: also the backups that depend on it
      --expired            delete: what the retention policy lets go
      --keep-full=N        keep N full backups with their incremental backups
      --keep-days=N        keep what restores to any moment of the last N days
      --expire-after-backup
                           init: apply the retention policy after every backup
  -n, --dry-run            delete: only say what would be deleted

Backup options (init stores -c and -X; backup takes them all):
  -c, --checkpoint=fast|spread   (default fast)
  -X, --wal-method=fetch|stream  (default stream)
  -r, --max-rate=RATE
  -l, --label=LABEL
  -P, --progress
  -v, --verbose
      --manifest-checksums=SHA{224,256,384,512}|CRC32C|NONE

Connection options (stored by init, overridden by backup):
  -d, --dbname=CONNSTR
  -h, --host=HOSTNAME
  -p, --port=PORT
  -U, --username=NAME
  -w, --no-password
  -W, --password

Statuses: RUNNING, DONE, OK (validated), ERROR, CORRUPT (validation failed),
ORPHAN (a parent is missing or not usable).
`;
}
