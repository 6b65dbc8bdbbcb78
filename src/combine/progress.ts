/**
 * `-P/--progress` (beyond pg_combinebackup, which has none): files written out of the files the final
 * backup holds, and the bytes written, on one line redrawn with "\r" on a terminal, otherwise printed
 * at most once a second; a last line when done.
 */
import { readdirSync, statSync } from 'node:fs';
import { formatBytes } from '../events/progress-bar.js';
import { COMBINE_PROGNAME } from './report.js';

/** Regular files the walk of the final backup will write (not its top-level backup_label and backup_manifest). */
export function countFinalBackupFiles(dir: string): number {
  let n = 0;
  const walk = (d: string, top: boolean): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p, false);
      else if (e.isFile()) {
        if (!(top && (e.name === 'backup_label' || e.name === 'backup_manifest'))) n++;
      }
      else if (e.isSymbolicLink() && d === `${dir}/pg_tblspc`) {
        try {
          if (statSync(p).isDirectory()) walk(p, false);
        } catch {
          /* the walk reports it */
        }
      }
    }
  };
  walk(dir, true);
  return n;
}

export class CombineProgress {
  private files = 0;
  private bytes = 0;
  private last = 0;

  constructor(private readonly total: number, private readonly write: (t: string) => void, private readonly tty: boolean, private readonly now: () => number = Date.now) {}

  file(bytes: number): void {
    this.files++;
    this.bytes += bytes;
    const t = this.now();
    if (t - this.last >= 1000) {
      this.last = t;
      this.report(false);
    }
  }

  finish(): void {
    this.report(true);
  }

  line(): string {
    const total = Math.max(this.total, this.files);
    const pct = total === 0 ? 100 : Math.floor((this.files * 100) / total);
    return `${COMBINE_PROGNAME}: ${this.files}/${total} files (${pct}%), ${formatBytes(this.bytes)} written`;
  }

  private report(finished: boolean): void {
    const text = this.line();
    if (this.tty) this.write(`${text}${finished ? '\n' : '\r'}`);
    else this.write(`${text}\n`);
  }
}
