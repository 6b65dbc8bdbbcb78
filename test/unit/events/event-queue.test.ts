import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../../src/events/event-queue.js';

describe('EventQueue', () => {
  it('delivers pushed items in order, to a waiting reader too, and ends', async () => {
    const q = new EventQueue<number>();
    q.push(1);
    const seen: number[] = [];
    const reading = (async () => {
      for await (const n of q) seen.push(n);
    })();
    await new Promise((r) => setTimeout(r, 5));
    q.push(2);
    q.push(3);
    q.end();
    q.push(4); // after the end: dropped
    await reading;
    expect(seen).toEqual([1, 2, 3]);
  });

  it('breaking out of the loop stops it', async () => {
    const q = new EventQueue<number>();
    q.push(1);
    q.push(2);
    for await (const n of q) {
      expect(n).toBe(1);
      break;
    }
    expect(await q.next()).toEqual({ done: true, value: undefined });
  });
});
