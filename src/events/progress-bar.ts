/**
 * The live progress bar that `-P` draws when stderr is a terminal (beyond pg, whose line is kept when
 * stderr is not a terminal): one line, redrawn in place with "\r", e.g.
 *
 *   [##########··········]  50%  1.2/2.4 GB  85.3 MB/s  ETA 0:14  1/2 tablespaces
 */

export interface ProgressBarState {
  done: number;
  /** null: no estimate (--no-estimate-size is refused with -P, but the server may report none). */
  total: number | null;
  rate: number;
  eta: number | null;
  tablespaceNum: number;
  tablespaceCount: number;
  /** -v: the file being written. */
  filename?: string | undefined;
}

const BAR_WIDTH = 20;
const FILENAME_WIDTH = 30;
const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** 1536 → "1.5 kB"; three significant digits at most. */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text} ${UNITS[u] as string}`;
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function formatProgressBar(s: ProgressBarState, finished: boolean): string {
  const total = s.total === null ? null : Math.max(s.total, s.done);
  const fraction = finished ? 1 : total === null || total === 0 ? 0 : Math.min(1, s.done / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'·'.repeat(BAR_WIDTH - filled)}]`;
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const amount = total === null ? formatBytes(s.done) : `${formatBytes(s.done)}/${formatBytes(total)}`;
  const parts = [bar, percent, amount, `${formatBytes(s.rate)}/s`];
  if (!finished && s.eta !== null) parts.push(`ETA ${formatDuration(s.eta)}`);
  parts.push(`${s.tablespaceNum}/${s.tablespaceCount} ${s.tablespaceCount === 1 ? 'tablespace' : 'tablespaces'}`);
  if (s.filename !== undefined && !finished) {
    const f = s.filename;
    parts.push(f.length > FILENAME_WIDTH ? `...${f.slice(f.length - FILENAME_WIDTH + 3)}` : f);
  }
  return parts.join('  ');
}

/** Redraws one terminal line: "\r", the text, blanks over what the previous text left, then "\r" or "\n". */
export class LineRedrawer {
  private lastLength = 0;

  constructor(private readonly write: (text: string) => void) {}

  draw(text: string, final: boolean): void {
    const pad = this.lastLength > text.length ? ' '.repeat(this.lastLength - text.length) : '';
    this.lastLength = final ? 0 : text.length;
    this.write(`\r${text}${pad}${final ? '\n' : ''}`);
  }
}
