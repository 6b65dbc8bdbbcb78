/**
 * `-T/--tablespace-mapping=OLDDIR=NEWDIR`: pg_basebackup's tablespace_list_append().
 */
import { UsageError } from '../errors.js';
import { canonicalizePath, isAbsolutePath, isWindowsAbsolutePath } from './canonicalize-path.js';

export { canonicalizePath } from './canonicalize-path.js';

/** One -T option: both directories canonicalized (canonicalizePath). */
export interface TablespaceMapping {
  oldDir: string;
  newDir: string;
}

/** MAXPGPATH: each directory, in bytes, must stay below it. */
export const MAXPGPATH = 1024;

const BACKSLASH = 0x5c;
const EQUALS = 0x3d;

/**
 * Split OLDDIR=NEWDIR at the unescaped '=' (`\=` stands for a literal '=').  As in pg, a second '=' is an
 * error only once NEWDIR has characters (so "/a==/b" maps /a to /b).  OLDDIR may be absolute by Unix or
 * Windows rules (the server may run either), NEWDIR must be absolute here.  Throws UsageError with pg's
 * texts (no hint).
 */
export function parseTablespaceMapping(arg: string, opts: { localOldDir?: boolean } = {}): TablespaceMapping {
  const bytes = Buffer.from(arg, 'utf8');
  const oldDir: number[] = [];
  const newDir: number[] = [];
  let dst = oldDir;
  for (let i = 0; i < bytes.length; i++) {
    if (dst.length >= MAXPGPATH) throw new UsageError('directory name too long');
    const ch = bytes[i] as number;
    if (ch === BACKSLASH && bytes[i + 1] === EQUALS) {
      // the backslash only escapes the '=' that follows
    } else if (ch === EQUALS && (i === 0 || bytes[i - 1] !== BACKSLASH)) {
      if (newDir.length > 0) throw new UsageError('multiple "=" signs in tablespace mapping');
      dst = newDir;
    } else {
      dst.push(ch);
    }
  }
  const text = (b: number[]): string => Buffer.from(b).toString('utf8');
  const oldText = text(oldDir);
  const newText = text(newDir);
  if (oldText === '' || newText === '') {
    throw new UsageError(`invalid tablespace mapping format "${arg}", must be "OLDDIR=NEWDIR"`);
  }
  // pg_combinebackup (localOldDir): both directories are local, so only this machine's rule applies.
  if (!isAbsolutePath(oldText) && (opts.localOldDir === true || !isWindowsAbsolutePath(oldText))) {
    throw new UsageError(`old directory is not an absolute path in tablespace mapping: ${oldText}`);
  }
  if (!isAbsolutePath(newText)) {
    throw new UsageError(`new directory is not an absolute path in tablespace mapping: ${newText}`);
  }
  return { oldDir: canonicalizePath(oldText), newDir: canonicalizePath(newText) };
}
