/**
 * The combine as a generator of steps: nothing (a synchronous step) or a promise to wait for (the
 * final fsync pass of the command, files synced several at a time in the libuv pool).  The
 * synchronous driver serves in-process callers (the catalog) that run it in one go.
 */
export type Step = void | Promise<unknown>;

/** Run a generator of steps that must all be synchronous. */
export function runStepsSync<T>(gen: Generator<Step, T, void>): T {
  let r = gen.next();
  while (!r.done) {
    if (r.value instanceof Promise) throw new Error('internal error: asynchronous step in a synchronous combine');
    r = gen.next();
  }
  return r.value;
}

/** Run a generator of steps, awaiting each promise; a rejection is thrown into the generator. */
export async function runStepsAsync<T>(gen: Generator<Step, T, void>): Promise<T> {
  let r = gen.next();
  while (!r.done) {
    const v = r.value;
    if (v instanceof Promise) {
      let failed = false;
      let err: unknown;
      try {
        await v;
      } catch (e) {
        failed = true;
        err = e;
      }
      r = failed ? gen.throw(err) : gen.next();
    } else r = gen.next();
  }
  return r.value;
}
