import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { headerIdentities, scanDocument } from './twins.ts';

/**
 * A shop API whose stores hold webhooks (`/api/stores/{storeId}/webhooks/{webhookId}`). Deleting a store keeps its
 * webhooks in the data (live, with their secrets), and every read or DELETE below a deleted store answers 404
 * "Store not found". Review R1-18: the end-of-scan clean-up deleted the setup store first (204), then took the 404s
 * below it for "gone" and reported the webhooks deleted, while they stayed.
 *
 * What the scan must do: delete the children before their parent, so no webhook it made stays; never call one
 * deleted while it stays.
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const param = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'integer' } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shop stores', version: '1.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/stores': {
      get: { operationId: 'listStores', responses: { '200': { description: "the caller's stores" } } },
      post: {
        operationId: 'createStore',
        requestBody: json({ name: { type: 'string' } }, ['name']),
        responses: { '201': { description: 'store' } },
      },
    },
    '/api/stores/{storeId}': {
      get: {
        operationId: 'getStore',
        parameters: [param('storeId')],
        responses: { '200': { description: 'store' } },
      },
      delete: {
        operationId: 'deleteStore',
        parameters: [param('storeId')],
        responses: { '204': { description: 'gone' } },
      },
    },
    '/api/stores/{storeId}/webhooks': {
      get: {
        operationId: 'listWebhooks',
        parameters: [param('storeId')],
        responses: { '200': { description: 'webhooks' } },
      },
      post: {
        operationId: 'createWebhook',
        parameters: [param('storeId')],
        requestBody: json({ url: { type: 'string', format: 'uri' } }, ['url']),
        responses: { '201': { description: 'webhook' } },
      },
    },
    '/api/stores/{storeId}/webhooks/{webhookId}': {
      get: {
        operationId: 'getWebhook',
        parameters: [param('storeId'), param('webhookId')],
        responses: { '200': { description: 'webhook' } },
      },
      delete: {
        operationId: 'deleteWebhook',
        parameters: [param('storeId'), param('webhookId')],
        responses: { '204': { description: 'gone' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { alice: 'st-alice-5c1e9a', bob: 'st-bob-0d7f44' };

interface Store {
  id: number;
  owner: string;
  name: string;
  deleted: boolean;
}
interface Webhook {
  id: number;
  store: number;
  url: string;
  secret: string;
}

describe('the clean-up deletes a parent’s children before the parent, and never calls a kept child deleted', {
  timeout: 300_000,
}, () => {
  const stores = new Map<number, Store>([[1, { id: 1, owner: 'alice', name: 'main', deleted: false }]]);
  const webhooks = new Map<number, Webhook>([
    [1, { id: 1, store: 1, url: 'https://a.example/h', secret: 'whs_1' }],
  ]);
  let nextStore = 2;
  let nextHook = 2;
  let server: TestServer;
  let result: ScanResult;
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') req.resume();
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const who = Object.keys(KEYS).find((k) => req.headers.authorization === `Bearer ${KEYS[k]}`);
    if (!who) return send(res, 401, { error: 'unauthorized' });
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/api/stores') {
      if (req.method === 'GET')
        return send(
          res,
          200,
          [...stores.values()].filter((s) => s.owner === who && !s.deleted),
        );
      if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' });
      if (typeof body?.name !== 'string') return send(res, 400, { error: 'name is required' });
      const s = { id: nextStore++, owner: who, name: body.name, deleted: false };
      stores.set(s.id, s);
      return send(res, 201, { id: s.id, name: s.name });
    }
    const m = /^\/api\/stores\/(\d+)(?:\/webhooks(?:\/(\d+))?)?$/.exec(path);
    if (!m) return send(res, 404, { error: 'not found' });
    const store = stores.get(Number(m[1]));
    if (!store || store.deleted || store.owner !== who)
      return send(res, 404, { error: `Store ${m[1]} not found` });
    if (!path.includes('/webhooks')) {
      if (req.method === 'GET') return send(res, 200, { id: store.id, name: store.name });
      if (req.method !== 'DELETE') return send(res, 405, { error: 'method not allowed' });
      // Soft delete: the store's webhooks stay in the data.
      store.deleted = true;
      return send(res, 204);
    }
    if (m[2] === undefined) {
      if (req.method === 'GET')
        return send(
          res,
          200,
          [...webhooks.values()].filter((h) => h.store === store.id).map((h) => ({ id: h.id, url: h.url })),
        );
      if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' });
      if (typeof body?.url !== 'string' || !/^https?:\/\//.test(body.url))
        return send(res, 400, { error: 'url must be an absolute URL' });
      const h = { id: nextHook++, store: store.id, url: body.url, secret: `whs_${nextHook}` };
      webhooks.set(h.id, h);
      return send(res, 201, { id: h.id, url: h.url });
    }
    const h = webhooks.get(Number(m[2]));
    if (!h || h.store !== store.id) return send(res, 404, { error: 'webhook not found' });
    if (req.method === 'GET') return send(res, 200, { id: h.id, url: h.url });
    if (req.method !== 'DELETE') return send(res, 405, { error: 'method not allowed' });
    webhooks.delete(h.id);
    return send(res, 204);
  };

  before(async () => {
    server = await startServer((req, res) => void handle(req, res).catch(() => res.destroy()));
    result = await scanDocument(SPEC, server.url, {
      identities: headerIdentities('Authorization', KEYS, 'Bearer'),
      checks: ['API1'],
    });
  });
  after(() => server?.server.close());

  test('the setup made a store and a webhook below it', () => {
    assert.ok(nextStore > 2, result.notes.join('\n'));
    assert.ok(nextHook > 2, result.notes.join('\n'));
  });

  test('a webhook that stays is never reported deleted: it is named as left, below a parent deleted first', () => {
    const left = [...webhooks.values()].filter((h) => h.id !== 1);
    const claimed = result.notes.filter((n) =>
      left.some((h) => n.includes(`/webhooks/${h.id}:`) && !n.includes('left in place')),
    );
    assert.deepEqual(claimed, [], result.notes.join('\n'));
    for (const h of left)
      assert.ok(
        result.notes.some((n) => n.includes(`/webhooks/${h.id}:`) && /parent \S+ was deleted first/.test(n)),
        `webhook ${h.id} not named as left:\n${result.notes.join('\n')}`,
      );
  });

  test('children first: no webhook the scan made stays', () => {
    assert.deepEqual([...webhooks.keys()], [1], result.notes.join('\n'));
  });
});
