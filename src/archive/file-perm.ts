/**
 * Creation modes in a data directory, after src/common/file_perm.c (SetDataDirectoryCreatePerm):
 * when the server's data_directory_mode grants group read/execute (0750), new directories are 0750
 * and files 0640, and the mask keeps group write and all "other" bits off; otherwise 0700, 0600
 * and a mask of 0077.
 */

export interface DataDirPerm {
  /** pg_dir_create_mode */
  dirMode: number;
  /** pg_file_create_mode */
  fileMode: number;
  /** pg_mode_mask: bits never granted */
  modeMask: number;
}

const PG_DIR_MODE_GROUP = 0o750;

export function dataDirPerm(dataDirMode: number): DataDirPerm {
  if ((dataDirMode & PG_DIR_MODE_GROUP) === PG_DIR_MODE_GROUP) {
    return { dirMode: 0o750, fileMode: 0o640, modeMask: 0o027 };
  }
  return { dirMode: 0o700, fileMode: 0o600, modeMask: 0o077 };
}
