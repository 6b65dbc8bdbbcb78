/** Stopping a backup: abort helpers (src/backup/abort.ts), the sync walk as steps, and the CLI's signal handlers. */
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { abortable, abortError, onAbort, runSteps, throwIfAborted } from '../../../src/backup/abort.js';
import { installStopSignals, interruptedError, SAME_REQUEST_MS } from '../../../src/cli/signals.js';
import { PgBasebackupError } from '../../../src/errors.js';
import { syncBackupSteps } from '../../../src/fs/sync-method.js';

const root = mkdtempSync(join(tmpdir(), 'pgbb-abort-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('abort helpers', () => {
  it("the error is the signal's PGBB_ABORTED reason, or a generic one", () => {
    const a = new AbortController();
    a.abort(interruptedError('SIGTERM'));
    expect(abortError(a.signal).message).toBe('interrupted by signal SIGTERM');
    const b = new AbortController();
    b.abort();
    const e = abortError(b.signal);
    expect(e).toBeInstanceOf(PgBasebackupError);
    expect(e).toMatchObject({ code: 'PGBB_ABORTED', message: 'backup aborted' });
    expect(() => throwIfAborted(b.signal)).toThrow('backup aborted');
    expect(() => throwIfAborted(undefined)).not.toThrow();
  });

  it('abortable: the value, or the abort error as soon as the signal fires', async () => {
    await expect(abortable(Promise.resolve(3), new AbortController().signal)).resolves.toBe(3);
    const a = new AbortController();
    const never = new Promise<number>(() => undefined);
    const p = abortable(never, a.signal);
    a.abort(interruptedError('SIGINT'));
    await expect(p).rejects.toThrow('interrupted by signal SIGINT');
    await expect(abortable(Promise.resolve(1), a.signal)).rejects.toThrow('interrupted by signal SIGINT');
  });

  it('onAbort runs once, at once if already aborted, and can be cancelled', () => {
    const a = new AbortController();
    let n = 0;
    const stop = onAbort(a.signal, () => n++);
    const b = new AbortController();
    let m = 0;
    onAbort(b.signal, () => m++)();
    a.abort();
    b.abort();
    stop();
    expect([n, m]).toEqual([1, 0]);
    onAbort(a.signal, () => n++);
    expect(n).toBe(2);
  });

  it('runSteps gives the event loop a turn and stops between steps', async () => {
    const a = new AbortController();
    let steps = 0;
    function* slow(): Generator<void> {
      // Bounded, so that a runSteps that never yields ends (and the test fails) instead of hanging.
      while (steps < 5000) {
        const until = Date.now() + 2;
        while (Date.now() < until); // a busy step, like an fsync
        steps++;
        yield;
      }
    }
    // Counted in steps, not milliseconds: a loaded machine may stall the process for longer than a timer's delay.
    let seenAt = -1;
    const poll = setInterval(() => {
      if (steps >= 10 && seenAt < 0) {
        seenAt = steps;
        a.abort(interruptedError('SIGHUP'));
      }
    }, 1);
    try {
      await expect(runSteps(slow(), a.signal, 5)).rejects.toThrow('interrupted by signal SIGHUP');
    } finally {
      clearInterval(poll);
    }
    expect(seenAt).toBeGreaterThanOrEqual(10);
    expect(steps).toBe(seenAt); // stopped at the next step boundary, none run after the abort
  });

  it('a signal during the last, long step is still seen', async () => {
    const a = new AbortController();
    function* one(): Generator<void> {
      setImmediate(() => a.abort()); // fires only once the event loop gets a turn
      const until = Date.now() + 10;
      while (Date.now() < until);
    }
    await expect(runSteps(one(), a.signal)).rejects.toThrow('backup aborted');
  });

  it('the fsync walk yields once per file and directory', () => {
    const d = join(root, 'tree');
    mkdirSync(join(d, 'sub'), { recursive: true });
    for (const f of ['a', 'b', 'sub/c']) writeFileSync(join(d, f), f);
    const warnings: string[] = [];
    expect([...syncBackupSteps('tar', d, 'fsync', (w) => warnings.push(w))]).toHaveLength(5);
    expect([...syncBackupSteps('plain', d, 'fsync', (w) => warnings.push(w))]).toHaveLength(5);
    expect(warnings).toEqual([]);
  });
});

describe('installStopSignals', () => {
  it('the first SIGINT, SIGTERM or SIGHUP aborts; the second calls onSecond; dispose stops listening', () => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const fake = new EventEmitter() as unknown as NodeJS.Process;
      const second: string[] = [];
      let clock = 1000;
      const h = installStopSignals((s) => second.push(s), fake, () => clock);
      expect(h.signal.aborted).toBe(false);
      fake.emit(sig, sig);
      expect(h.signal.aborted).toBe(true);
      expect(abortError(h.signal).message).toBe(`interrupted by signal ${sig}`);
      expect(second).toEqual([]);
      clock += SAME_REQUEST_MS; // a later, separate signal (issue 10)
      fake.emit('SIGINT', 'SIGINT');
      expect(second).toEqual(['SIGINT']);
      h.dispose();
      expect((fake as unknown as EventEmitter).listenerCount(sig)).toBe(0);
    }
  });

  it('the same request delivered twice at once (timeout(1): to the child, then to its group) is one request (issue 10)', () => {
    const fake = new EventEmitter() as unknown as NodeJS.Process;
    const second: string[] = [];
    let clock = 5;
    const h = installStopSignals((s) => second.push(s), fake, () => clock);
    fake.emit('SIGTERM', 'SIGTERM');
    clock += 1;
    fake.emit('SIGTERM', 'SIGTERM');
    fake.emit('SIGHUP', 'SIGHUP'); // systemd's SendSIGHUP=yes right after SIGTERM
    expect(h.signal.aborted).toBe(true);
    expect(second).toEqual([]);
    clock += SAME_REQUEST_MS;
    fake.emit('SIGTERM', 'SIGTERM');
    expect(second).toEqual(['SIGTERM']);
    h.dispose();
  });
});
