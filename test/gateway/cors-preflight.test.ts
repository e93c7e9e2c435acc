import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echoHandler, op, openapi, startGateway, startServer } from '../harness.ts';

test('answers a CORS preflight for a declared operation from its cors policy, and refuses unlisted origins', async () => {
  const upstream = await startServer(echoHandler);
  const gw = await startGateway({
    specs: { 'a.yaml': openapi({ '/items': { post: op('createItem') }, '/plain': { get: op('plain') } }) },
    config: {
      apis: [
        {
          name: 'a',
          spec: 'a.yaml',
          upstream: { url: upstream.url },
          policies: { cors: { allowOrigins: ['https://app.example.com'], allowCredentials: true } },
        },
      ],
    },
  });
  try {
    const ok = await fetch(`${gw.url}/items`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    assert.ok(ok.status === 204 || ok.status === 200, `status ${ok.status}`);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
    const evil = await fetch(`${gw.url}/items`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    // A method the path does not declare is not pre-approved.
    const wrong = await fetch(`${gw.url}/items`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'DELETE' },
    });
    assert.equal(wrong.status, 405);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
