/** Whether an input is a tar-format backup: a directory without PG_VERSION that holds a base archive. */
import { existsSync, readdirSync } from 'node:fs';

const BASE_ARCHIVE = /^base\.(tar|tgz|tar\.gz|tar\.lz4|tar\.zst)$/;

export function isTarFormatBackup(dir: string): boolean {
  if (existsSync(`${dir}/PG_VERSION`)) return false;
  try {
    return readdirSync(dir).some((n) => BASE_ARCHIVE.test(n));
  } catch {
    return false;
  }
}
