import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createMonitor } from '../../src/monitor/monitor.ts';
import { systemClock } from '../../src/state/clock.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { access } from './access-events.ts';

/** A monitor without a store whose only detector raises the shadow-API alert at the fifth undeclared hit. */
async function shadowOnlyMonitor() {
  return createMonitor(
    {
      events: { store: 'none' },
      bans: { enabled: false },
      detectors: {
        enumeration: { enabled: false },
        credentialAbuse: { enabled: false },
        volumetric: { enabled: false },
        errorSpike: { enabled: false },
      },
    },
    {
      logger: pino({ level: 'silent' }),
      clock: systemClock,
      store: createMemoryStore({ clock: systemClock }),
    },
  );
}

function undeclared(i: number) {
  return access(i, {
    'http.route': undefined,
    'url.path': `/internal/debug/${i}`,
    'portcullis.operation_id': undefined,
    'http.response.status_code': 404,
    'portcullis.decision': 'undeclared_route',
  });
}

test('detectors take events in batches: soon after emission on their own, at once on flush or a full batch', async () => {
  const monitor = await shadowOnlyMonitor();
  // Five undeclared hits: the batch waits for its timer, so nothing is judged yet within the same turn.
  for (let i = 0; i < 5; i++) monitor.events.emit(undeclared(i));
  assert.equal(monitor.alerts().length, 0);
  // Within the batching delay (20 ms) the detector has seen them and alerted, with no flush.
  for (let i = 0; i < 50 && monitor.alerts().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(monitor.alerts().length, 1);
  assert.equal(monitor.alerts()[0].detector, 'shadow-api');
  await monitor.close();

  // flush() hands the pending events over before it returns.
  const flushed = await shadowOnlyMonitor();
  for (let i = 0; i < 5; i++) flushed.events.emit(undeclared(i));
  await flushed.events.flush();
  assert.equal(flushed.alerts().length, 1);
  await flushed.close();

  // A full batch (256 events) is judged in the emitting call itself.
  const full = await shadowOnlyMonitor();
  for (let i = 0; i < 251; i++) full.events.emit(access(i));
  for (let i = 0; i < 5; i++) full.events.emit(undeclared(300 + i));
  assert.equal(full.alerts().length, 1);
  await full.close();
});
