import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Flask-like inventory API (`{"success": false, "error": "..."}` bodies, a bearer key per member) whose one
 * write is a bulk action: `POST /api/items/bulk-action {"action": "delete" | "archive" | "export", "item_ids":
 * [...]}`. The path says nothing of what it does; the body's `action` does, and the document's enum lists
 * `delete` and `archive` only (the server also takes an `export` it does not document). The vulnerable twin acts on any member's items, the fixed twin on the caller's own only.
 *
 * An end-of-session measurement saw a plain scan delete a seeded item of a given user this way (discovery sent
 * the enum's first value with an id the item list gave out, and later probes repeated it): a request whose action
 * input names a verb of change acts, so the runner holds its id inputs to objects the scan created.
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'inventory', version: '1' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/api/items': { get: { operationId: 'listItems', responses: { '200': ok('the caller’s items') } } },
    '/api/items/{item_id}': {
      get: {
        operationId: 'getItem',
        parameters: [{ name: 'item_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('an item'), '404': { description: 'none' } },
      },
    },
    '/api/items/bulk-action': {
      post: {
        operationId: 'bulkAction',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['action', 'item_ids'],
                properties: {
                  // Only verbs of change listed: the sample takes the first, `delete` (with `export` listed too the
                  // planner takes `export`, which names no change: quiet-samples.test.ts).
                  action: { type: 'string', enum: ['delete', 'archive'] },
                  item_ids: { type: 'array', items: { type: 'integer' } },
                },
              },
            },
          },
        },
        responses: { '200': ok('done') },
      },
    },
  },
};

interface Item {
  id: number;
  owner: string;
  name: string;
  state: 'active' | 'archived' | 'deleted';
}

const KEYS: Record<string, string> = { 'tok-john-5a1e': 'john', 'tok-mary-9c3f': 'mary' };

function startInventory(fixed: boolean) {
  const items: Item[] = [
    { id: 4, owner: 'john', name: 'Standing desk', state: 'active' },
    { id: 6, owner: 'john', name: 'Mechanical keyboard', state: 'active' },
    { id: 7, owner: 'mary', name: 'Monitor arm', state: 'active' },
    { id: 9, owner: 'mary', name: 'Desk lamp', state: 'active' },
  ];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const member = KEYS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    if (!member) return send(401, { success: false, error: 'unauthorised' });
    const path = new URL(req.url ?? '/', 'http://inventory').pathname;
    const live = items.filter((i) => i.state !== 'deleted');
    if (req.method === 'GET' && path === '/api/items')
      return send(200, { success: true, items: live.filter((i) => i.owner === member) });
    const m = /^\/api\/items\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const item = live.find((i) => i.id === Number(m[1]));
      return item && item.owner === member
        ? send(200, { success: true, item })
        : send(404, { success: false });
    }
    if (req.method === 'POST' && path === '/api/items/bulk-action') {
      let body: { action?: unknown; item_ids?: unknown };
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { success: false, error: 'invalid JSON' });
      }
      if (!Array.isArray(body?.item_ids) || !['delete', 'archive', 'export'].includes(String(body.action)))
        return send(400, { success: false, error: 'action and item_ids are required' });
      const chosen = live.filter((i) => (body.item_ids as unknown[]).map(Number).includes(i.id));
      const allowed = fixed ? chosen.filter((i) => i.owner === member) : chosen;
      if (body.action === 'export') return send(200, { success: true, items: allowed });
      for (const item of allowed) item.state = body.action === 'delete' ? 'deleted' : 'archived';
      return send(200, { success: true, affected: allowed.length });
    }
    return send(404, { success: false, error: 'not found' });
  }).then((api) => Object.assign(api, { items }));
}

const identities = [
  { name: 'john', headers: { Authorization: 'Bearer tok-john-5a1e' } },
  { name: 'mary', headers: { Authorization: 'Bearer tok-mary-9c3f' } },
];
const changed = (api: { items: Item[] }) => api.items.filter((i) => i.state !== 'active').map((i) => i.id);

describe('a bulk action whose body names a verb of change goes only with ids of objects the scan created', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startInventory>>>>>;
  before(async () => {
    Object.assign(scans, await scanTwins(SPEC, startInventory, { identities, ratePerSecond: 200 }));
  });

  test('a plain scan deletes or archives no seeded item on either twin, and says why', () => {
    assert.deepEqual(changed(scans.vulnerable.api), []);
    assert.deepEqual(changed(scans.fixed.api), []);
    const reasons = scans.vulnerable.result.coverage.matrix
      .filter((c) => /bulk-action/.test(c.operation) && c.reason !== undefined)
      .map((c) => c.reason ?? '');
    assert.ok(
      reasons.some((r) => /item_ids=\d+, which the scan did not create/.test(r)),
      reasons.join('\n'),
    );
  });

  test('the fixed twin: no finding on the bulk action', () => {
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => f.endsWith(' bulkAction')),
      [],
    );
  });
});
