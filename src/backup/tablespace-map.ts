/**
 * get_tablespace_mapping(): where a tablespace's files go in plain format.  The server's location is
 * canonicalized and looked up in the -T list; in-place tablespaces (16+, a relative location such as
 * "pg_tblspc/16384") live under the base directory.
 */
import { isAbsolute, join } from 'node:path';
import { canonicalizePath } from '../options/canonicalize-path.js';
import type { TablespaceMapping } from '../options/tablespace-mapping.js';

export function tablespaceMapper(mappings: readonly TablespaceMapping[], basedir: string): (location: string) => string {
  return (location: string) => {
    if (!isAbsolute(location)) return join(basedir, location);
    const canon = canonicalizePath(location);
    for (const m of mappings) if (m.oldDir === canon) return m.newDir;
    return location;
  };
}
