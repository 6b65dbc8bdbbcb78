import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileError, UsageError } from '../../../src/errors.js';
import { JsonLinesSink, parseJsonEventsDestination } from '../../../src/events/json-lines.js';
import type { BackupEvent } from '../../../src/events/types.js';

const dir = mkdtempSync(join(tmpdir(), 'pgbb-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ev = (phase: 'connecting' | 'done'): BackupEvent => ({ event: 'phase', time: '2024-01-01T00:00:00.000Z', phase, message: phase });

describe('parseJsonEventsDestination', () => {
  it('stderr, fd:N, anything else is a file', () => {
    expect(parseJsonEventsDestination('stderr')).toEqual({ kind: 'fd', fd: 2, name: 'stderr' });
    expect(parseJsonEventsDestination('fd:3')).toEqual({ kind: 'fd', fd: 3, name: 'fd:3' });
    expect(parseJsonEventsDestination('events.ndjson')).toEqual({ kind: 'file', path: 'events.ndjson', name: 'events.ndjson' });
    expect(parseJsonEventsDestination('/tmp/stdout')).toMatchObject({ kind: 'file' });
  });

  it('rejects an empty destination and a malformed fd:', () => {
    for (const bad of ['', 'fd:', 'fd:x', 'fd:-1', 'fd:99999999999']) {
      expect(() => parseJsonEventsDestination(bad), bad).toThrow(UsageError);
    }
    expect(() => parseJsonEventsDestination('fd:x')).toThrow('invalid --json-events destination "fd:x"');
  });
});

describe('JsonLinesSink', () => {
  it('appends one JSON object per line to a file', () => {
    const path = join(dir, 'a.ndjson');
    writeFileSync(path, '{"earlier":true}\n');
    const sink = JsonLinesSink.open(parseJsonEventsDestination(path), () => undefined);
    sink.write(ev('connecting'));
    sink.write(ev('done'));
    sink.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(JSON.parse(lines[1] as string)).toEqual(ev('connecting'));
    expect(JSON.parse(lines[2] as string)).toMatchObject({ phase: 'done' });
  });

  it('writes to an inherited descriptor and leaves it open', () => {
    const path = join(dir, 'fd.ndjson');
    const fd = openSync(path, 'w');
    const sink = JsonLinesSink.open(parseJsonEventsDestination(`fd:${fd}`), () => undefined);
    sink.write(ev('connecting'));
    sink.close();
    closeSync(fd); // still ours to close
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(ev('connecting'));
  });

  it('a descriptor that is not open, or a file that cannot be created, is an error at once', () => {
    expect(() => JsonLinesSink.open({ kind: 'fd', fd: 987, name: 'fd:987' }, () => undefined)).toThrow(
      'could not use --json-events destination "fd:987": Bad file descriptor',
    );
    expect(() => JsonLinesSink.open(parseJsonEventsDestination(join(dir, 'no', 'such', 'x')), () => undefined)).toThrow(FileError);
  });

  it('a destination that fails while writing is dropped after one warning', () => {
    const path = join(dir, 'closed.ndjson');
    const fd = openSync(path, 'w');
    const warnings: string[] = [];
    const sink = JsonLinesSink.open(parseJsonEventsDestination(`fd:${fd}`), (m) => warnings.push(m));
    closeSync(fd);
    sink.write(ev('connecting'));
    sink.write(ev('done'));
    expect(warnings).toEqual([`could not write JSON events to "fd:${fd}": Bad file descriptor`]);
  });
});
