/**
 * pg_verifybackup's -P line: "<done>/<total> kB (<pct>%) verified", the done figure right-aligned to
 * the width of the total; at most once per second (wall-clock second), always when finished; "\r"
 * between updates on a terminal, else one line each.
 */
export class VerifyProgress {
  totalSize = 0;
  doneSize = 0;
  private lastSecond = 0;

  constructor(
    private readonly enabled: boolean,
    private readonly write: (text: string) => void,
    private readonly isTty: boolean,
  ) {}

  report(finished: boolean): void {
    if (!this.enabled) return;
    const now = Math.floor(Date.now() / 1000);
    if (now === this.lastSecond && !finished) return;
    this.lastSecond = now;
    const percent = this.totalSize > 0 ? Math.floor((this.doneSize * 100) / this.totalSize) : 0;
    const total = String(Math.floor(this.totalSize / 1024));
    const done = String(Math.floor(this.doneSize / 1024)).padStart(total.length);
    this.write(`${done}/${total} kB (${percent}%) verified${!finished && this.isTty ? '\r' : '\n'}`);
  }
}
