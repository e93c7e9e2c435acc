/**
 * A tiny reactive core: signals hold values, effects re-run when a signal they read changes. Effects run in a
 * batch on the next microtask, so several `set` calls in a row cause one re-render.
 */

/** @type {Effect | null} */
let running = null;
/** @type {Set<Effect>} */
const dirty = new Set();
let scheduled = false;

/**
 * @typedef {{ run(): void, deps: Set<Set<Effect>>, disposed: boolean }} Effect
 */

function flush() {
  scheduled = false;
  const batch = [...dirty];
  dirty.clear();
  for (const e of batch) if (!e.disposed) e.run();
}

function schedule(e) {
  dirty.add(e);
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flush);
  }
}

/**
 * Creates a signal.
 * @template T
 * @param {T} initial
 * @returns {{ get(): T, set(v: T): void, update(fn: (v: T) => T): void, peek(): T }}
 */
export function signal(initial) {
  let value = initial;
  /** @type {Set<Effect>} */
  const subscribers = new Set();
  return {
    get() {
      if (running) {
        subscribers.add(running);
        running.deps.add(subscribers);
      }
      return value;
    },
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const e of subscribers) schedule(e);
    },
    update(fn) {
      this.set(fn(value));
    },
    peek: () => value,
  };
}

/**
 * Runs `fn` now and again whenever a signal it read changes; returns a function that stops it.
 * @param {() => void} fn
 */
export function effect(fn) {
  /** @type {Effect} */
  const e = {
    deps: new Set(),
    disposed: false,
    run() {
      for (const d of e.deps) d.delete(e);
      e.deps.clear();
      const previous = running;
      running = e;
      try {
        fn();
      } catch (err) {
        console.error('effect failed', err);
      } finally {
        running = previous;
      }
    },
  };
  e.run();
  return () => {
    e.disposed = true;
    for (const d of e.deps) d.delete(e);
    e.deps.clear();
  };
}
