import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PasswordLineEditor, promptPassword, type PromptIo } from '../../../src/conn/prompt-password.js';

describe('PasswordLineEditor', () => {
  it.each<[string[], string, string]>([
    [['secret\r'], 'done', 'secret'],
    [['sec', 'ret\n'], 'done', 'secret'],
    [['secrex\x7ft\r'], 'done', 'secret'],
    [['abc\b\b\bxyz\r'], 'done', 'xyz'],
    [['junk\x15real\r'], 'done', 'real'],
    [['pässwörd€\r'], 'done', 'pässwörd€'],
    [['part\x04'], 'done', 'part'],
    [['x\x03y'], 'interrupted', 'x'],
    [['partial'], 'reading', 'partial'],
  ])('%j', (chunks, state, value) => {
    const ed = new PasswordLineEditor();
    let s = 'reading';
    for (const c of chunks) s = ed.feed(c);
    expect(s).toBe(state);
    expect(ed.value).toBe(value);
  });

  it('ignores what follows the end of the line', () => {
    const ed = new PasswordLineEditor();
    expect(ed.feed('one\rtwo')).toBe('done');
    expect(ed.value).toBe('one');
  });
});

function fakeIo(tty: boolean) {
  const input = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (m: boolean) => void };
  const rawModes: boolean[] = [];
  if (tty) {
    input.isTTY = true;
    input.setRawMode = (m: boolean) => {
      rawModes.push(m);
    };
  }
  const output = new PassThrough();
  let written = '';
  output.on('data', (d: Buffer) => {
    written += d.toString();
  });
  let released = false;
  const io: PromptIo = { input, output, release: () => (released = true) };
  return { io, input, rawModes, written: () => written, released: () => released };
}

describe('promptPassword', () => {
  it('on a terminal: raw mode (no echo) while reading, prompt and newline only on the output', async () => {
    const t = fakeIo(true);
    const p = promptPassword('Password: ', t.io);
    t.input.write('hunter');
    t.input.write('2\r');
    expect(await p).toBe('hunter2');
    expect(t.rawModes).toEqual([true, false]);
    await new Promise((r) => setImmediate(r));
    expect(t.written()).toBe('Password: \n');
    expect(t.released()).toBe(true);
  });

  it('without a terminal: the first line of input, without its newline or carriage return', async () => {
    const t = fakeIo(false);
    const p = promptPassword('Password: ', t.io);
    t.input.write('from-stdin\r\nnext line\n');
    expect(await p).toBe('from-stdin');
    await new Promise((r) => setImmediate(r));
    expect(t.written()).toBe('Password: \n');
  });

  it('returns what was typed when input ends without a newline', async () => {
    const t = fakeIo(false);
    const p = promptPassword('Password: ', t.io);
    t.input.end('no-newline');
    expect(await p).toBe('no-newline');
  });
});
