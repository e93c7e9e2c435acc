/**
 * `portcullis serve --workers 2` as its own process: the other worker's events reach worker 0's monitor,
 * so its store, detectors and admin API see every request, not worker 0's share; and when worker 0 is
 * killed, what the other worker relays meanwhile is held by the primary, not lost (issue 14 item 3).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { echoHandler, startServer, type TestServer } from '../harness.ts';
import { type ServeProcess, startServeProcess } from '../kit/process.ts';
import { sendSpread, startLoad, writeShopConfig } from './serve-process.ts';

const TOKEN = 'workers-events-test-token-0123456789';
const REQUESTS = 60;

// One `serve --workers 2` (three processes) for the whole file: both describes run the same config, the
// first on the fresh process, the second counting from where the first left the store.
let upstream: TestServer;
let serve: ServeProcess;
let eventsFile: string;

before(async () => {
  upstream = await startServer(echoHandler);
  const configFile = await writeShopConfig(upstream.url, {
    token: TOKEN,
    monitor: { events: { store: 'sqlite', sqlite: { path: './events.db' }, flushIntervalMs: 20 } },
  });
  eventsFile = path.join(path.dirname(configFile), 'events.db');
  serve = await startServeProcess(configFile, { args: ['--workers', '2'], admin: true });
});

after(async () => {
  await serve?.stop();
  await upstream?.close();
});

describe('watch loop of a multi-worker gateway', () => {
  const admin = async (p: string) => {
    const res = await fetch(`${serve.adminUrl}${p}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(res.status, 200);
    return res.json() as Promise<Record<string, unknown>>;
  };

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
    assert.doesNotMatch(metrics, /^portcullis_events_relay_dropped_total\{[^}]*\} [1-9]/m);
  });
});

/** The sum of the samples of `name` in a Prometheus text scrape whose labels include `labels`. */
function sumOf(metrics: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

describe('watch loop of a multi-worker gateway whose worker 0 is killed', () => {
  /** Events in worker 0's store now (read beside it: SQLite in WAL mode lets a reader in). */
  const stored = () => {
    const db = new DatabaseSync(eventsFile, { readOnly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const scrape = async () => (await fetch(`${serve.latestAdminUrl()}/metrics`)).text();
  const isReady = async () => {
    try {
      const res = await fetch(`${serve.latestAdminUrl()}/readyz`, { signal: AbortSignal.timeout(2000) });
      return res.ok;
    } catch {
      return false;
    }
  };
  /** SIGKILLs worker 0 (`pid`); resolves once the primary has forked a new one. */
  const killFirstWorker = async (pid: number) => {
    process.kill(pid, 'SIGKILL');
    while ((await serve.workerPid(0).catch(() => pid)) === pid) await new Promise((r) => setTimeout(r, 20));
  };
  /** Resolves once worker 0 answers /readyz. */
  const firstWorkerReady = async () => {
    while (!(await isReady())) await new Promise((r) => setTimeout(r, 50));
  };
  /** Polls `done` every 50 ms, 200 times at most. */
  const settle = async (done: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await done()); i++) await new Promise((r) => setTimeout(r, 50));
  };

  test('events served while worker 0 restarts are held by the primary and stored once it is back: stored + dropped-and-counted = sent', async () => {
    // Before the kill, everything is stored and nothing is on its way: what worker 0 itself holds in
    // memory dies with it, whatever the relay does.
    const base = stored();
    await sendSpread(serve.gatewayUrl, 40);
    await settle(async () => stored() === base + 40);
    assert.equal(stored(), base + 40);

    // The load starts once the primary knows worker 0 is dead (a batch sent to it just before would be
    // lost with it, counted, as the other test shows) and runs while the new one starts.
    await killFirstWorker(await serve.workerPid(0));
    const load = startLoad(serve.gatewayUrl);
    await firstWorkerReady();
    const duringRestart = load.ok();
    // Then a while with both workers serving again.
    while (load.ok() < duringRestart + 100) await new Promise((r) => setTimeout(r, 20));
    const { ok } = await load.stop();
    assert.ok(duringRestart > 0, 'requests were answered while worker 0 restarted');

    const sent = base + 40 + ok;
    let dropped = 0;
    await settle(async () => {
      dropped = sumOf(await scrape(), 'portcullis_events_relay_dropped_total');
      return stored() + dropped >= sent;
    });
    assert.equal(stored() + dropped, sent);
    // The primary's buffer held them all.
    assert.equal(dropped, 0);
  });

  test('worker 0 killed under load: every event the other worker relayed reached a worker 0 or is counted as dropped', async () => {
    const load = startLoad(serve.gatewayUrl);
    while (load.ok() < 200) await new Promise((r) => setTimeout(r, 20));
    await killFirstWorker(await serve.workerPid(0));
    await firstWorkerReady();
    const back = load.ok();
    while (load.ok() < back + 200) await new Promise((r) => setTimeout(r, 20));
    await load.stop();

    const count = (m: string) => ({
      relayed: sumOf(m, 'portcullis_events_relayed_total'),
      delivered: sumOf(m, 'portcullis_events_relay_delivered_total'),
      bufferFull: sumOf(m, 'portcullis_events_relay_dropped_total', 'reason="buffer-full"'),
      exited: sumOf(m, 'portcullis_events_relay_dropped_total', 'reason="first-worker-exited"'),
      buffered: sumOf(m, 'portcullis_events_relay_buffered'),
    });
    let c = count('');
    await settle(async () => {
      c = count(await scrape());
      return c.relayed > 0 && c.buffered === 0 && c.delivered + c.bufferFull + c.exited >= c.relayed;
    });
    assert.ok(c.relayed > 0, 'worker 1 relayed events');
    assert.equal(c.buffered, 0);
    assert.equal(c.delivered + c.bufferFull + c.exited, c.relayed);
  });
});
