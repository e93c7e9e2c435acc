import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AvailabilityTransition, createAvailability } from './availability.ts';

/** A probe whose answers the test gives one by one; counts how many run at once. */
function controlledProbe() {
  const waiting: Array<(ok: boolean) => void> = [];
  let running = 0;
  let mostAtOnce = 0;
  let calls = 0;
  return {
    probe(): Promise<boolean> {
      calls++;
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      return new Promise<boolean>((resolve) =>
        waiting.push((ok) => {
          running--;
          resolve(ok);
        }),
      );
    },
    async answer(ok: boolean): Promise<void> {
      while (waiting.length === 0) await new Promise((r) => setTimeout(r, 5));
      waiting.shift()!(ok);
      await new Promise((r) => setImmediate(r));
    },
    get calls() {
      return calls;
    },
    get mostAtOnce() {
      return mostAtOnce;
    },
  };
}

function machine(failureThreshold = 3) {
  const probe = controlledProbe();
  const transitions: AvailabilityTransition[] = [];
  let now = 1000;
  const a = createAvailability({
    failureThreshold,
    probeIntervalMs: 5,
    probe: () => probe.probe(),
    onTransition: (t) => transitions.push(t),
    now: () => now,
  });
  return { a, probe, transitions, advance: (ms: number) => (now += ms) };
}

describe('store availability', () => {
  test('opens an outage after failureThreshold failures in a row, naming the operation and keyspace', () => {
    const { a, transitions } = machine(3);
    try {
      a.failed(a.epoch(), 'timeout', 'get', 'ban:ip:192.0.2.1');
      a.failed(a.epoch(), 'timeout', 'get', 'ban:ip:192.0.2.1');
      assert.equal(a.isAvailable(), true);
      a.failed(a.epoch(), 'timeout', 'consume', 'rl:{things}:x');
      assert.equal(a.isAvailable(), false);
      assert.deepEqual(transitions, [
        { available: false, reason: 'timeout', operation: 'consume', keyspace: 'rl', failures: 3 },
      ]);
    } finally {
      a.close();
    }
  });

  test('a success between failures starts the count again', () => {
    const { a, transitions } = machine(3);
    try {
      a.failed(a.epoch(), 'timeout', 'get');
      a.failed(a.epoch(), 'error', 'get');
      a.succeeded(a.epoch());
      a.failed(a.epoch(), 'timeout', 'get');
      a.failed(a.epoch(), 'timeout', 'get');
      assert.equal(a.isAvailable(), true);
      assert.equal(transitions.length, 0);
    } finally {
      a.close();
    }
  });

  test('further failures during an outage report nothing more', () => {
    const { a, transitions } = machine(1);
    try {
      for (let i = 0; i < 50; i++) a.failed(a.epoch(), 'timeout', 'get');
      a.lost('connection');
      assert.equal(transitions.length, 1);
    } finally {
      a.close();
    }
  });

  test('one probe at a time ends the outage when it is answered, reporting length and refused calls', async () => {
    const { a, probe, transitions, advance } = machine(1);
    try {
      a.failed(a.epoch(), 'timeout', 'setIfAbsent', 'dpop:api:abc');
      a.refuse();
      a.refuse();
      advance(2500);
      await probe.answer(false);
      assert.equal(a.isAvailable(), false);
      await probe.answer(true);
      assert.equal(a.isAvailable(), true);
      assert.equal(probe.mostAtOnce, 1);
      assert.deepEqual(transitions.at(-1), {
        available: true,
        reason: 'probe',
        operation: 'probe',
        keyspace: undefined,
        failures: 0,
        outageMs: 2500,
        refused: 2,
      });
      // No probe runs while the store is available.
      const calls = probe.calls;
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(probe.calls, calls);
    } finally {
      a.close();
    }
  });

  test('a failure of a command sent before the last transition counts for nothing', () => {
    const { a, transitions } = machine(2);
    try {
      const before = a.epoch();
      a.lost('connection');
      a.restored();
      // Two commands sent before the outage time out after the recovery: no new outage.
      a.failed(before, 'timeout', 'get');
      a.failed(before, 'timeout', 'get');
      assert.equal(a.isAvailable(), true);
      assert.deepEqual(
        transitions.map((t) => [t.available, t.reason]),
        [
          [false, 'disconnected'],
          [true, 'reconnected'],
        ],
      );
    } finally {
      a.close();
    }
  });

  test('refuses a threshold below 1', () => {
    assert.throws(
      () =>
        createAvailability({
          failureThreshold: 0,
          probeIntervalMs: 100,
          probe: async () => true,
          onTransition() {},
          now: () => 0,
        }),
      RangeError,
    );
  });
});
