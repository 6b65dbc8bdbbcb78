import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasMaglevByDefault } from '../../../src/cli/optimizing-tiers.js';

/** V8's %GetOptimizationStatus bits (src/runtime/runtime.h): optimized, by TurboFan. */
const OPTIMIZED = 1 << 4;
const TURBOFANNED = 1 << 6;

const dir = mkdtempSync(join(tmpdir(), 'pgbb-tiers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A fresh process on this Node.js: optionally call useMidTierOptimizerOnly() first, then make a
 * function hot and report V8's optimization status of it.
 */
function statusAfterWarmUp(callIt: boolean): number {
  const moduleUrl = new URL('../../../src/cli/optimizing-tiers.ts', import.meta.url).href;
  const script = join(dir, `probe-${callIt}.mjs`);
  writeFileSync(
    script,
    [
      `import { useMidTierOptimizerOnly } from ${JSON.stringify(moduleUrl)};`,
      callIt ? 'useMidTierOptimizerOnly();' : '',
      'function hot(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 3; return s; }',
      'const arr = Array.from({ length: 100 }, (_, i) => i);',
      // Built at run time: V8 parses the natives syntax, the TypeScript loader never sees it.
      "const status = new Function('f', 'return %GetOptimizationStatus(f)');",
      // Warm up until TurboFan has compiled it, or long enough that it would have.
      `let t = 0; for (let round = 0; round < 100 && (status(hot) & ${TURBOFANNED}) === 0; round++) for (let i = 0; i < 20000; i++) t += hot(arr);`,
      'console.log(String(status(hot)), t > 0);',
    ].join('\n'),
  );
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--single-threaded', '--import', 'tsx', script], { cwd: root, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const [status, ran] = r.stdout.trim().split(' ');
  expect(ran).toBe('true');
  return Number(status);
}

describe('optimizing tiers', () => {
  it('knows which Node.js majors run Maglev by default', () => {
    expect(hasMaglevByDefault('20.20.2')).toBe(false);
    expect(hasMaglevByDefault('21.7.3')).toBe(false);
    expect(hasMaglevByDefault('22.0.0')).toBe(true);
    expect(hasMaglevByDefault('24.22.3')).toBe(true);
  });

  it('leaves a hot function to Maglev where this Node.js has it, and to TurboFan where it has not', () => {
    const without = statusAfterWarmUp(false);
    expect(without & TURBOFANNED).toBe(TURBOFANNED);
    const status = statusAfterWarmUp(true);
    if (hasMaglevByDefault(process.versions.node)) {
      expect(status & OPTIMIZED).toBe(OPTIMIZED);
      expect(status & TURBOFANNED).toBe(0);
    } else {
      expect(status & TURBOFANNED).toBe(TURBOFANNED);
    }
  }, 60_000);
});
