/**
 * The backup's progress reporter with events: pg's -P line (progress.ts, unchanged when stderr is
 * not a terminal), or a live bar when it is one (progress-bar.ts), plus `phase` events as each
 * tablespace's archive starts and `progress` events at most 4 times a second.
 *
 * Bytes done: the server's 'p' messages (uncompressed bytes read, about once a second), and, without
 * server-side compression, the archive bytes received (the same measure, counted as they arrive).
 */
import { ProgressReporter } from '../backup/progress.js';
import { formatProgressBar, LineRedrawer } from './progress-bar.js';
import { ProgressRate } from './progress-rate.js';
import type { BackupPhase, ProgressEvent } from './types.js';

/** Minimum time between two progress events (and two redraws of the bar). */
export const PROGRESS_INTERVAL_MS = 250;

export interface ProgressEventsOptions {
  /** -P */
  enabled: boolean;
  /** -v: show the file name. */
  verbose: boolean;
  /** stderr is a terminal: draw the bar instead of pg's line. */
  isTty: boolean;
  write: (text: string) => void;
  tablespaceCount: number;
  /** No server-side compression: received archive bytes count as bytes done. */
  countReceived: boolean;
  onPhase: (phase: BackupPhase, extra: { tablespace: number; tablespaces: number }) => void;
  onProgress: (event: Omit<ProgressEvent, 'event' | 'time'>) => void;
  /** Milliseconds, monotonic (tests). */
  now?: () => number;
}

export class EventingProgressReporter extends ProgressReporter {
  private received = 0;
  private archiveIndex = -1;
  private lastTick = Number.NEGATIVE_INFINITY;
  private readonly rate = new ProgressRate();
  private readonly bar: LineRedrawer | undefined;
  private readonly clock: () => number;

  constructor(private readonly opts: ProgressEventsOptions) {
    const drawBar = opts.enabled && opts.isTty;
    super(opts.enabled && !drawBar, opts.verbose, opts.isTty, opts.write);
    this.bar = drawBar ? new LineRedrawer(opts.write) : undefined;
    // Monotonic milliseconds, as performance.now() (node:perf_hooks would load seven modules at start-up).
    this.clock = opts.now ?? (() => Number(process.hrtime.bigint()) / 1e6);
    this.state.tablespaceCount = opts.tablespaceCount;
  }

  /** The first archive is about to arrive. */
  begin(): void {
    this.startArchive(0);
    this.rate.add(this.clock(), 0);
  }

  /** Archive bytes as they arrive from the server. */
  addReceived(bytes: number): void {
    this.received += bytes;
    this.tick(false);
  }

  override report(tablespaceNum: number, force: boolean, finished: boolean): void {
    super.report(tablespaceNum, force, finished);
    // receive-archives.ts reports with the index of an archive that has just started (after the first).
    if (!finished && tablespaceNum > this.archiveIndex && tablespaceNum < this.opts.tablespaceCount) this.startArchive(tablespaceNum);
    this.tick(finished);
  }

  /** Bytes done so far. */
  get bytesDone(): number {
    const server = Number(this.state.totalDone);
    return this.opts.countReceived ? Math.max(server, this.received) : server;
  }

  private startArchive(index: number): void {
    this.archiveIndex = index;
    this.opts.onPhase('streaming', { tablespace: index + 1, tablespaces: this.opts.tablespaceCount });
  }

  private tick(finished: boolean): void {
    const now = this.clock();
    if (!finished && now - this.lastTick < PROGRESS_INTERVAL_MS) return;
    this.lastTick = now;
    const done = this.bytesDone;
    this.rate.add(now, done);
    const estimate = Number(this.state.totalSizeKb) * 1024;
    const total = estimate > 0 ? Math.max(estimate, done) : null;
    const rate = this.rate.rate();
    const eta = finished ? 0 : this.rate.eta(done, total);
    const count = this.opts.tablespaceCount;
    const current = finished ? count : Math.min(Math.max(this.archiveIndex + 1, 1), count);
    this.opts.onProgress({ bytes_done: done, bytes_total: finished ? done : total, rate, eta, tablespace: current, tablespaces: count });
    this.bar?.draw(
      formatProgressBar(
        {
          done,
          total: finished ? done : total,
          rate,
          eta,
          tablespaceNum: finished ? count : Math.max(this.archiveIndex, 0),
          tablespaceCount: count,
          filename: this.opts.verbose ? this.state.filename : undefined,
        },
        finished,
      ),
      finished,
    );
  }
}
