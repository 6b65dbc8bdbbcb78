/**
 * pg_basebackup's -P progress line ("%*s/%s kB (%d%%), %d/%d tablespaces"), at most once a second
 * unless forced, "\r" on a terminal and "\n" otherwise, 100% and a newline at the end.
 */

const VERBOSE_FILENAME_LENGTH = 35;

export interface ProgressState {
  totalSizeKb: bigint;
  totalDone: bigint;
  tablespaceCount: number;
  filename?: string | undefined;
}

export function formatProgressLine(s: ProgressState, tablespaceNum: number, verbose: boolean, finished: boolean): string {
  const doneKb = s.totalDone / 1024n;
  let percent = s.totalSizeKb > 0n ? Number((doneKb * 100n) / s.totalSizeKb) : 0;
  if (percent > 100) percent = 100;
  const totalSize = doneKb > s.totalSizeKb ? doneKb : s.totalSizeKb;
  const totalStr = totalSize.toString();
  const doneStr = doneKb.toString().padStart(totalStr.length);
  const noun = s.tablespaceCount === 1 ? 'tablespace' : 'tablespaces';
  const head = `${doneStr}/${totalStr} kB`;
  if (!verbose) return `${head} (${percent}%), ${tablespaceNum}/${s.tablespaceCount} ${noun}`;
  if (s.filename === undefined || finished) {
    return `${head} (100%), ${tablespaceNum}/${s.tablespaceCount} ${noun} ${''.padEnd(VERBOSE_FILENAME_LENGTH + 5)}`;
  }
  const f = s.filename;
  const truncate = f.length > VERBOSE_FILENAME_LENGTH;
  const shown = truncate ? `...${f.slice(f.length - VERBOSE_FILENAME_LENGTH + 3)}` : f.padEnd(VERBOSE_FILENAME_LENGTH);
  return `${head} (${percent}%), ${tablespaceNum}/${s.tablespaceCount} ${noun} (${shown})`;
}

export class ProgressReporter {
  private lastReport = -1;
  readonly state: ProgressState = { totalSizeKb: 0n, totalDone: 0n, tablespaceCount: 0 };

  constructor(
    private readonly enabled: boolean,
    private readonly verbose: boolean,
    private readonly isTty: boolean,
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  report(tablespaceNum: number, force: boolean, finished: boolean): void {
    if (!this.enabled) return;
    const now = this.now();
    if (now === this.lastReport && !force && !finished) return;
    this.lastReport = now;
    if (this.state.totalDone / 1024n > this.state.totalSizeKb) this.state.totalSizeKb = this.state.totalDone / 1024n;
    const line = formatProgressLine(this.state, tablespaceNum, this.verbose, finished);
    this.write(line + (!finished && this.isTty ? '\r' : '\n'));
  }
}
