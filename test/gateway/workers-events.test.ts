/**
 * `portcullis serve --workers 2` as its own process: the other worker's events reach worker 0's monitor,
 * so its store, detectors and admin API see every request, not worker 0's share.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { echoHandler, startServer, type TestServer } from '../harness.ts';
import { type ServeProcess, sendSpread, startServeProcess, writeShopConfig } from './serve-process.ts';

const TOKEN = 'workers-events-test-token-0123456789';
const REQUESTS = 60;

describe('watch loop of a multi-worker gateway', () => {
  let upstream: TestServer;
  let serve: ServeProcess;

  const admin = async (p: string) => {
    const res = await fetch(`${serve.adminUrl}${p}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(res.status, 200);
    return res.json() as Promise<Record<string, unknown>>;
  };

  before(async () => {
    upstream = await startServer(echoHandler);
    const configFile = await writeShopConfig(upstream.url, {
      token: TOKEN,
      monitor: { events: { store: 'sqlite', sqlite: { path: './events.db' }, flushIntervalMs: 20 } },
    });
    serve = await startServeProcess(configFile, ['--workers', '2']);
  });

  after(async () => {
    await serve?.stop();
    await upstream?.close();
  });

  test('worker 0 counts, stores and can query the requests of both workers', async () => {
    await sendSpread(serve.gatewayUrl, REQUESTS);

    const requests = async () => {
      const inv = (await admin('/api/inventory')) as { operations: Array<{ traffic: { requests: number } }> };
      return inv.operations[0].traffic.requests;
    };
    let seen = await requests();
    for (let i = 0; i < 100 && seen < REQUESTS; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await requests();
    }
    // Worker 0 served about half of them itself: only relayed events can make up the rest.
    assert.equal(seen, REQUESTS);
    let stored: unknown[] = [];
    for (let i = 0; i < 100 && stored.length < REQUESTS; i++) {
      stored = ((await admin('/api/events?type=access&limit=1000')) as { events: unknown[] }).events;
      if (stored.length < REQUESTS) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(stored.length, REQUESTS);
    const metrics = await (await fetch(`${serve.adminUrl}/metrics`)).text();
    // Worker 1 relays (its counter is declared) and lost nothing (no sample above 0).
    assert.match(metrics, /^# TYPE portcullis_events_relay_dropped_total counter$/m);
    assert.doesNotMatch(metrics, /^portcullis_events_relay_dropped_total [1-9]/m);
  });
});
