/**
 * The admin API as `portcullis serve` builds it: the runtime creates the monitor from the `monitor` config
 * section and the admin routes from the admin token, with nothing injected by the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../src/core/problems.ts';
import { echoHandler, startProxy, type TestProxy } from '../harness.ts';
import { ADMIN_TOKEN, shopOperations, shopSpec } from './support.ts';

describe('admin API wired by the runtime', () => {
  let gw: TestProxy;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(gw.adminUrl + path, {
      ...init,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });

  before(async () => {
    gw = await startProxy({
      upstream: echoHandler,
      spec: shopSpec,
      api: { name: 'shop', policies: { ban: { cacheMs: 0 } }, operations: shopOperations },
      config: {
        admin: { token: ADMIN_TOKEN },
        monitor: {
          events: { store: 'sqlite', sqlite: { path: ':memory:', worker: false }, flushIntervalMs: 20 },
        },
      },
      // No sink from the test: the runtime builds the monitor itself.
      runtime: { events: undefined },
    });
  });
  after(() => gw.close());

  test('reports every feature running: event store, alerts, bans, live feed', async () => {
    const status = (await (await api('/api/status')).json()) as { features: Record<string, boolean> };
    assert.deepEqual(status.features, { events: true, alerts: true, bans: true, reload: false, live: true });
  });

  test('stores the gateway access events where /api/events reads them', async () => {
    await (await fetch(`${gw.url}/orders?wired=1`)).arrayBuffer();
    let events: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100 && events.length === 0; i++) {
      events = ((await (await api('/api/events?route=/orders')).json()) as { events: typeof events }).events;
      if (events.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(events[0]['portcullis.operation_id'], 'listOrders');
  });

  test('a ban made through the API is enforced by the gateway and lifted by DELETE', async () => {
    const created = await api('/api/bans', {
      method: 'POST',
      body: JSON.stringify({ kind: 'ip', value: '127.0.0.1', ttlSeconds: 60, reason: 'wiring test' }),
    });
    assert.equal(created.status, 201);
    const refused = await fetch(`${gw.url}/orders`);
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { type: string }).type, problems.banned.type);
    assert.equal((await api('/api/bans/ip/127.0.0.1', { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${gw.url}/orders`)).status, 200);
  });

  test('exports what discovery learned as OpenAPI and reports drift against the declared spec', async () => {
    await (await fetch(`${gw.url}/internal/debug/42`)).arrayBuffer();
    await (await fetch(`${gw.url}/internal/debug/43`)).arrayBuffer();
    let doc: { paths?: Record<string, unknown> } = {};
    for (
      let i = 0;
      i < 100 && !Object.keys(doc.paths ?? {}).some((p) => p.startsWith('/internal/debug'));
      i++
    ) {
      doc = (await (await api('/api/discovery/openapi?api=shop')).json()) as typeof doc;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(
      Object.keys(doc.paths ?? {}).some((p) => p.startsWith('/internal/debug/')),
      JSON.stringify(doc.paths),
    );
    const drift = (await (await api('/api/discovery/drift?api=shop')).json()) as {
      api: string;
      drift: unknown;
    };
    assert.equal(drift.api, 'shop');
    assert.match(JSON.stringify(drift.drift), /\/internal\/debug/);
    assert.equal((await api('/api/discovery/drift?api=nope')).status, 404);
  });
});
