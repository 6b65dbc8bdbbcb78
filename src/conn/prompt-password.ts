/**
 * Reading a password like PostgreSQL's simple_prompt(prompt, echo = false): the prompt goes to the
 * terminal (/dev/tty), the answer is read from it with echo off, and a newline is written afterwards.
 * Without a terminal, stdin and stderr are used.  The password is never echoed, printed or logged.
 */
import { closeSync, openSync } from 'node:fs';
import { PgBasebackupError } from '../errors.js';
import { ttyModule } from '../lazy-builtins.js';

/** Line editing for a terminal in raw mode (where the kernel no longer edits the line). */
export class PasswordLineEditor {
  private chars: string[] = [];
  private state: 'reading' | 'done' | 'interrupted' = 'reading';

  /** Feed typed characters; returns the state after them. */
  feed(text: string): 'reading' | 'done' | 'interrupted' {
    for (const ch of text) {
      if (this.state !== 'reading') break;
      switch (ch) {
        case '\r':
        case '\n':
          this.state = 'done';
          break;
        case '\x7f': // DEL (backspace key)
        case '\b':
          this.chars.pop();
          break;
        case '\x15': // ^U: kill the line
          this.chars = [];
          break;
        case '\x03': // ^C
          this.state = 'interrupted';
          break;
        case '\x04': // ^D: end of input
          this.state = 'done';
          break;
        default:
          this.chars.push(ch);
      }
    }
    return this.state;
  }

  get value(): string {
    return this.chars.join('');
  }
}

/** Streams to prompt on; `raw` when input is a terminal whose echo can be switched off. */
export interface PromptIo {
  input: NodeJS.ReadableStream & { setRawMode?: (mode: boolean) => unknown; isTTY?: boolean };
  output: NodeJS.WritableStream;
  /** Release whatever was opened for the prompt. */
  release?: () => void;
}

/** /dev/tty when it can be opened, else stdin and stderr. */
export function terminalIo(): PromptIo {
  let inFd: number | undefined;
  let outFd: number | undefined;
  try {
    inFd = openSync('/dev/tty', 'r');
    outFd = openSync('/dev/tty', 'w');
    const input = new (ttyModule().ReadStream)(inFd);
    const output = new (ttyModule().WriteStream)(outFd);
    return {
      input,
      output,
      release: () => {
        input.destroy();
        output.destroy();
      },
    };
  } catch {
    if (inFd !== undefined) closeSync(inFd);
    if (outFd !== undefined) closeSync(outFd);
    return { input: process.stdin, output: process.stderr };
  }
}

function interrupted(): PgBasebackupError {
  return new PgBasebackupError('PGBB_ABORTED', 'password prompt interrupted');
}

/**
 * Prompt and read one line.  On a terminal a ^C restores the terminal, re-raises SIGINT (the terminal
 * would have sent it) and rejects with PGBB_ABORTED.
 */
export async function promptPassword(prompt: string, io: PromptIo = terminalIo()): Promise<string> {
  const { input, output } = io;
  const raw = input.isTTY === true && typeof input.setRawMode === 'function';
  output.write(prompt);
  if (raw) input.setRawMode?.(true);
  const editor = new PasswordLineEditor();
  let pending = '';
  try {
    const result = await new Promise<'done' | 'interrupted'>((resolve, reject) => {
      const finish = (state: 'done' | 'interrupted') => {
        input.removeListener('data', onData);
        input.removeListener('end', onEnd);
        input.removeListener('error', onError);
        input.pause();
        resolve(state);
      };
      const onData = (chunk: Buffer | string) => {
        const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        if (raw) {
          const state = editor.feed(text);
          if (state !== 'reading') finish(state);
          return;
        }
        pending += text;
        if (pending.includes('\n')) finish('done');
      };
      const onEnd = () => finish('done');
      const onError = (err: Error) => reject(err);
      input.on('data', onData);
      input.on('end', onEnd);
      input.on('error', onError);
      input.resume();
    });
    if (result === 'interrupted') {
      if (raw) input.setRawMode?.(false);
      output.write('\n');
      process.kill(process.pid, 'SIGINT');
      throw interrupted();
    }
  } finally {
    if (raw) input.setRawMode?.(false);
    io.release?.();
  }
  output.write('\n');
  if (raw) return editor.value;
  // Without a terminal: the first line, without its newline (and a Windows carriage return).
  const line = pending.split('\n')[0] ?? '';
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
