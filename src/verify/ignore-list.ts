/** should_ignore_relpath: a path is ignored when an entry equals it or names one of its parent directories. */
export function shouldIgnoreRelpath(ignore: readonly string[], relpath: string): boolean {
  for (const v of ignore) {
    if (relpath.startsWith(v) && (relpath.length === v.length || relpath[v.length] === '/')) return true;
  }
  return false;
}
