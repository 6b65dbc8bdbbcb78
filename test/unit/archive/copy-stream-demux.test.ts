import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { CopyStreamDemux, type ArchiveStreamHandler } from '../../../src/archive/copy-stream-demux.js';
import type { ByteSink } from '../../../src/archive/streamer.js';
import { CollectingByteSink } from './helpers.js';

const n = (name: string, loc: string) => Buffer.concat([Buffer.from('n'), Buffer.from(name), Buffer.from([0]), Buffer.from(loc), Buffer.from([0])]);
const d = (data: string | Buffer) => Buffer.concat([Buffer.from('d'), Buffer.from(data)]);
const p = (v: bigint) => {
  const b = Buffer.alloc(9);
  b.write('p');
  b.writeBigUInt64BE(v, 1);
  return b;
};
const m = () => Buffer.from('m');

class Recorder implements ArchiveStreamHandler {
  events: string[] = [];
  archives: { name: string; loc: string | undefined; sink: CollectingByteSink }[] = [];
  manifest: CollectingByteSink | undefined;
  progressValues: bigint[] = [];
  constructor(private readonly makeSink: (what: string) => CollectingByteSink | undefined = () => new CollectingByteSink()) {}
  startArchive(name: string, loc: string | undefined): ByteSink | undefined {
    this.events.push(`start ${name} ${loc ?? '(base)'}`);
    const sink = this.makeSink(name);
    if (sink === undefined) return undefined;
    const events = this.events;
    const origFinish = sink.finish.bind(sink);
    sink.finish = async () => {
      events.push(`finish ${name}`);
      await origFinish();
    };
    this.archives.push({ name, loc, sink });
    return sink;
  }
  progress(v: bigint): void {
    this.progressValues.push(v);
  }
  startManifest(): ByteSink | undefined {
    this.events.push('start manifest');
    const sink = this.makeSink('manifest');
    if (sink === undefined) return undefined;
    const events = this.events;
    const origFinish = sink.finish.bind(sink);
    sink.finish = async () => {
      events.push('finish manifest');
      await origFinish();
    };
    this.manifest = sink;
    return sink;
  }
}

async function run(messages: Buffer[], handler = new Recorder()): Promise<Recorder> {
  const demux = new CopyStreamDemux(handler);
  for (const msg of messages) await demux.write(msg);
  await demux.end();
  return handler;
}

async function failure(messages: Buffer[], handler = new Recorder()): Promise<Error> {
  try {
    await run(messages, handler);
  } catch (e) {
    return e as Error;
  }
  throw new Error('no failure');
}

describe('CopyStreamDemux', () => {
  it('routes archives, progress and the manifest, finishing each sink in pg order', async () => {
    const r = await run([
      n('16384.tar', '/srv/ts'),
      d('tablespace '),
      d('bytes'),
      p(1000n),
      n('base.tar', ''),
      d('base'),
      d(''),
      p(2n ** 40n),
      m(),
      d('{"manifest'),
      d('": 1}'),
    ]);
    expect(r.events).toEqual([
      'start 16384.tar /srv/ts',
      'finish 16384.tar',
      'start base.tar (base)',
      'start manifest',
      'finish manifest',
      'finish base.tar',
    ]);
    expect(r.archives.map((a) => [a.name, a.loc, a.sink.bytes.toString()])).toEqual([
      ['16384.tar', '/srv/ts', 'tablespace bytes'],
      ['base.tar', undefined, 'base'],
    ]);
    expect(r.manifest?.bytes.toString()).toBe('{"manifest": 1}');
    expect(r.progressValues).toEqual([1000n, 2n ** 40n]);
  });

  it.each<[string, Buffer[], string]>([
    ['an empty message', [Buffer.alloc(0)], 'empty COPY message'],
    ['an unknown type', [Buffer.from('x')], 'malformed COPY message of type 120, length 1'],
    ['a high type byte, printed as a signed char', [Buffer.from([0xff, 1, 2])], 'malformed COPY message of type -1, length 3'],
    ['an archive name without NUL', [Buffer.from('nbase.tar')], 'malformed COPY message of type 110, length 9'],
    ['no spclocation', [Buffer.from('nbase.tar\0')], 'malformed COPY message of type 110, length 10'],
    ['bytes after spclocation', [Buffer.from('nbase.tar\0\0x')], 'malformed COPY message of type 110, length 12'],
    ['an empty archive name', [n('', '')], 'invalid archive name: ""'],
    ['a name starting with a dot', [n('.base.tar', '')], 'invalid archive name: ".base.tar"'],
    ['a name with a slash', [n('../base.tar', '')], 'invalid archive name: "../base.tar"'],
    ['a name with a backslash', [n('a\\base.tar', '')], 'invalid archive name: "a\\base.tar"'],
    ['data before any archive', [d('x')], 'unexpected payload data'],
    ['a short progress message', [Buffer.from('p1234567')], 'malformed COPY message of type 112, length 8'],
    ['a long progress message', [Buffer.concat([p(1n), Buffer.from([0])])], 'malformed COPY message of type 112, length 10'],
    ['a manifest message with payload', [Buffer.from('mx')], 'malformed COPY message of type 109, length 2'],
    ['an archive after the manifest', [n('base.tar', ''), m(), n('1.tar', '/x')], 'archives must precede manifest'],
    ['a malformed archive message after the manifest', [m(), Buffer.from('nx')], 'archives must precede manifest'],
  ])('rejects %s', async (_what, messages, message) => {
    const err = await failure(messages);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.message).toBe(message);
  });

  it('treats data as unexpected when archives are not received here (backup target)', async () => {
    const r = new Recorder(() => undefined);
    const err = await failure([n('base.tar', ''), d('x')], r);
    expect(err.message).toBe('unexpected payload data');
    await expect(run([n('base.tar', ''), p(5n), m()], new Recorder(() => undefined))).resolves.toBeDefined();
  });

  it('waits for a slow archive sink, and for the previous archive to finish before starting the next', async () => {
    const slow = new CollectingByteSink(true);
    let finishRelease: (() => void) | undefined;
    slow.finish = () =>
      new Promise<void>((res) => {
        finishRelease = res;
      });
    const started: string[] = [];
    const demux = new CopyStreamDemux({
      startArchive: (name) => {
        started.push(name);
        return name === '1.tar' ? slow : new CollectingByteSink();
      },
      startManifest: () => new CollectingByteSink(),
    });
    expect(demux.write(n('1.tar', '/a'))).toBeUndefined();
    const w = demux.write(d('x'));
    expect(w).toBeInstanceOf(Promise);
    slow.release();
    await w;
    const next = demux.write(n('base.tar', ''));
    expect(next).toBeInstanceOf(Promise);
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual(['1.tar']);
    finishRelease?.();
    await next;
    expect(started).toEqual(['1.tar', 'base.tar']);
  });

  it('accepts sinks made asynchronously', async () => {
    const sink = new CollectingByteSink();
    const demux = new CopyStreamDemux({
      startArchive: async () => sink,
      startManifest: async () => undefined,
    });
    await demux.write(n('base.tar', ''));
    await demux.write(d('abc'));
    await demux.end();
    expect(sink.bytes.toString()).toBe('abc');
    expect(sink.finished).toBe(true);
  });

  it('aborts the open sinks', async () => {
    const r = new Recorder();
    const demux = new CopyStreamDemux(r);
    await demux.write(n('base.tar', ''));
    await demux.write(m());
    await demux.abort(new Error('connection lost'));
    expect(r.archives[0]?.sink.aborted).toBe(true);
    expect(r.manifest?.aborted).toBe(true);
  });

  it('aborts an archive whose finish fails', async () => {
    const bad = new CollectingByteSink();
    bad.finish = async () => {
      throw new ProtocolError('COPY stream ended before last file was finished');
    };
    const demux = new CopyStreamDemux({ startArchive: () => bad, startManifest: () => undefined });
    await demux.write(n('1.tar', '/a'));
    await expect(Promise.resolve(demux.write(n('base.tar', '')))).rejects.toThrow('COPY stream ended before last file was finished');
    expect(bad.aborted).toBe(true);
  });
});

describe('CopyStreamDemux with transient payloads (views of a reused read buffer)', () => {
  const run = async (sink: ByteSink & { kept: Buffer[] }): Promise<void> => {
    const demux = new CopyStreamDemux({ startArchive: () => sink, startManifest: () => undefined });
    const reused = Buffer.alloc(64);
    demux.write(n('base.tar', ''));
    for (const text of ['first', 'second', 'third']) {
      const payload = d(text);
      payload.copy(reused);
      await demux.write(reused.subarray(0, payload.length), true);
      reused.fill(0x21);
    }
  };

  it('copies archive data for a sink that keeps buffers', async () => {
    const kept: Buffer[] = [];
    const sink = { kept, write: (b: Buffer) => void kept.push(b), finish: async () => undefined, abort: async () => undefined };
    await run(sink);
    expect(kept.map((b) => b.toString())).toEqual(['first', 'second', 'third']);
  });

  it('passes views to an in-place sink (which must use them before returning)', async () => {
    const kept: Buffer[] = [];
    const seen: string[] = [];
    const sink = {
      inPlace: true,
      kept,
      write: (b: Buffer) => {
        seen.push(b.toString());
        kept.push(b);
      },
      finish: async () => undefined,
      abort: async () => undefined,
    };
    await run(sink);
    expect(seen).toEqual(['first', 'second', 'third']);
    // The views themselves now show the overwritten buffer: no copy was made.
    expect(kept.map((b) => b.toString())).toEqual(['!!!!!', '!!!!!!', '!!!!!']);
  });
});
