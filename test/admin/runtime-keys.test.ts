import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echoHandler, op, openapi, startGateway, startServer } from '../harness.ts';

const TOKEN = 'runtime-keys-admin-token-0123456789';

test('creates a runtime API key through the admin API, the gateway accepts it, and revoking it locks it out', async () => {
  const upstream = await startServer(echoHandler);
  const gw = await startGateway({
    specs: {
      'api.yaml': openapi(
        { '/orders': { get: op('listOrders') } },
        {
          security: [{ keyAuth: [] }],
          components: { securitySchemes: { keyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } },
        },
      ),
    },
    config: {
      admin: { token: TOKEN },
      apis: [
        {
          name: 'shop',
          spec: 'api.yaml',
          upstream: { url: upstream.url },
          policies: {
            authenticate: { schemes: { keyAuth: { apiKey: { runtimeKeys: true, consumers: [] } } } },
          },
        },
      ],
    },
  });
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${gw.adminUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...init.headers },
    });
  try {
    assert.equal((await fetch(`${gw.url}/orders`)).status, 401);
    const created = await admin('/api/keys', {
      method: 'POST',
      body: JSON.stringify({ consumer: 'partner-a', roles: ['reader'] }),
    });
    assert.equal(created.status, 201);
    const { key, hash } = (await created.json()) as { key: string; hash: string };
    assert.match(hash, /^sha256:[0-9a-f]{64}$/);
    const ok = await fetch(`${gw.url}/orders`, { headers: { 'x-api-key': key } });
    assert.equal(ok.status, 200);
    assert.equal(
      ((await ok.json()) as { headers: Record<string, string> }).headers['x-portcullis-consumer'],
      'partner-a',
    );
    const listed = (await (await admin('/api/keys?api=shop')).json()) as {
      keys: Array<{ consumer: string; hashPrefix: string }>;
    };
    assert.deepEqual(
      listed.keys.map((k) => [k.consumer, k.hashPrefix]),
      [['partner-a', hash.slice(7, 15)]],
    );
    assert.ok(!JSON.stringify(listed).includes(key));
    assert.equal((await admin(`/api/keys/shop/${hash}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${gw.url}/orders`, { headers: { 'x-api-key': key } })).status, 401);
    assert.equal(
      (await admin('/api/keys', { method: 'POST', body: JSON.stringify({ api: 'nope', consumer: 'x' }) }))
        .status,
      400,
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});
