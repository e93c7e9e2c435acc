import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { systemClock } from '../../src/core/clock.ts';
import { createMonitor } from '../../src/monitor/monitor.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { access } from '../kit/access-events.ts';

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

test('detectors take events in batches: soon after emission on their own, at once on a read or a full batch', async () => {
  const monitor = await shadowOnlyMonitor();
  const heard: string[] = [];
  monitor.onAlert((a) => heard.push(a.detector));
  // Five undeclared hits: the batch waits for its timer, so nothing is judged within the same turn.
  for (let i = 0; i < 5; i++) monitor.events.emit(undeclared(i));
  assert.deepEqual(heard, []);
  // Within the batching delay (20 ms) the detector has seen them and alerted, with nobody asking.
  for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(heard, ['shadow-api']);
  await monitor.close();

  // A read sees every event emitted before it: alerts(), the inventory, flush().
  const read = await shadowOnlyMonitor();
  for (let i = 0; i < 5; i++) read.events.emit(undeclared(i));
  assert.equal(read.alerts().length, 1);
  read.events.emit(undeclared(10));
  assert.equal(read.discovery.endpoints().find((e) => e.path.startsWith('/internal'))?.requests, 6);
  await read.close();
  const flushed = await shadowOnlyMonitor();
  const flushHeard: string[] = [];
  flushed.onAlert((a) => flushHeard.push(a.detector));
  for (let i = 0; i < 5; i++) flushed.events.emit(undeclared(i));
  await flushed.events.flush();
  assert.deepEqual(flushHeard, ['shadow-api']);
  await flushed.close();

  // A full batch (256 events) is judged in the emitting call itself.
  const full = await shadowOnlyMonitor();
  const fullHeard: string[] = [];
  full.onAlert((a) => fullHeard.push(a.detector));
  for (let i = 0; i < 251; i++) full.events.emit(access(i));
  for (let i = 0; i < 5; i++) full.events.emit(undeclared(300 + i));
  assert.deepEqual(fullHeard, ['shadow-api']);
  await full.close();
});
