import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { startGateway, startServer } from '../harness.ts';

/**
 * A scheduled scan (`scans[].scan.headers` in the gateway config) sends its headers with every request. The
 * scanned API answers 404 to anything without `X-Api-Mode: legacy` and its deployment key; `GET /orders` lists
 * every order to a caller without `X-User-ID`, which API2's request without credentials finds only when it
 * carries both.
 */
const KEY = 'gk51b84d06aa7f3a9c2e';
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'orders', version: '1.0.0' },
  paths: {
    '/orders': {
      get: {
        operationId: 'listOrders',
        security: [{ user: [] }],
        responses: { '200': { description: "the caller's orders" } },
      },
    },
  },
  components: { securitySchemes: { user: { type: 'apiKey', in: 'header', name: 'X-User-ID' } } },
};

test('a scheduled scan sends scans[].scan.headers with every request; the key is masked', async () => {
  const ungated: string[] = [];
  const api = await startServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-content-type-options', 'nosniff');
    if (req.headers['x-api-mode'] !== 'legacy' || req.headers['x-gateway-key'] !== KEY) {
      if (ungated.length < 1000) ungated.push(`${req.method} ${req.url}`);
      res.statusCode = 404;
      return res.end('{"detail":"Not Found"}');
    }
    const caller = String(req.headers['x-user-id'] ?? '');
    if (
      req.method !== 'GET' ||
      req.url !== '/orders' ||
      (caller !== '' && caller !== '1' && caller !== '2')
    ) {
      res.statusCode = 404;
      return res.end('{"detail":"Not Found"}');
    }
    const orders = [
      { id: 101, owner: '1', item: 'lamp' },
      { id: 102, owner: '2', item: 'desk' },
    ];
    res.end(JSON.stringify(orders.filter((o) => caller === '' || o.owner === caller)));
  });
  // The API is closed even when the gateway does not start.
  const gw = await startGateway({
    specs: { 'api.yaml': SPEC },
    config: {
      // The gateway only holds the document the job scans; the scan goes to the API itself.
      apis: [
        {
          name: 'orders',
          spec: 'api.yaml',
          upstream: { url: api.url },
          policies: { authenticate: { enabled: false } },
        },
      ],
      scans: [
        {
          name: 'nightly',
          api: 'orders',
          everyMinutes: 1440,
          initialDelaySeconds: 3600,
          audit: false,
          scan: {
            target: api.url,
            identities: [
              { name: 'alice', headers: { 'X-User-ID': '1' } },
              { name: 'bob', headers: { 'X-User-ID': '2' } },
            ],
            headers: { 'X-Api-Mode': 'legacy', 'X-Gateway-Key': KEY },
            checks: ['API2'],
            ratePerSecond: 200,
          },
        },
      ],
    },
  }).catch(async (err: unknown) => {
    await api.close();
    throw err;
  });
  try {
    const [scan] = await gw.runtime.scans.runNow('nightly');
    assert.deepEqual(ungated, []);
    const open = scan.findings.filter(
      (f) => f.rule.id === 'scan/api2-no-credentials' && f.operation?.operationId === 'listOrders',
    );
    assert.equal(open.length, 1, scan.findings.map((f) => f.rule.id).join(', '));
    const curl = String(open[0].evidence?.curl ?? '');
    assert.match(curl, /-H 'X-Api-Mode: legacy'/);
    assert.match(curl, /-H 'X-Gateway-Key: '"\$CREDENTIAL"/);
    assert.ok(!JSON.stringify(scan.findings).includes(KEY));
  } finally {
    await gw.close();
    await api.close();
  }
});
