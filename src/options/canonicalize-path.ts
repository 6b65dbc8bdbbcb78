/**
 * canonicalize_path() of src/port/path.c (PostgreSQL 15+, non-Windows), done purely on the text:
 * trailing slashes go (a lone "/" stays), runs of slashes collapse, "." components vanish, ".." removes
 * the preceding ordinary component; ".." right under "/" is dropped, while leading ".." of a relative path
 * are kept.  A relative path that reduces to nothing becomes "."; the empty string stays empty.
 */
export function canonicalizePath(path: string): string {
  if (path === '') return '';
  const absolute = path.startsWith('/');
  const out: string[] = [];
  let depth = 0; // ordinary components at the end of `out` that a ".." may remove
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') {
      out.push(part);
      depth++;
    } else if (depth > 0) {
      out.pop();
      depth--;
    } else if (!absolute) {
      out.push(part);
    }
  }
  if (absolute) return `/${out.join('/')}`;
  return out.length === 0 ? '.' : out.join('/');
}

/** is_absolute_path() on non-Windows systems. */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith('/');
}

/** is_windows_absolute_path(): `/x`, `\x` or a drive letter followed by `:/` or `:\`. */
export function isWindowsAbsolutePath(path: string): boolean {
  const sep = (ch: string | undefined): boolean => ch === '/' || ch === '\\';
  return sep(path[0]) || (/^[A-Za-z]$/.test(path[0] ?? '') && path[1] === ':' && sep(path[2]));
}
