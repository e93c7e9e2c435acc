import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A garden-plot registry in a Go net/http style (plain-text errors, `X-Plot-Key` per member): each member's plot is
 * seeded and given as `params: {plotCode}`; the document has no creation. `GET /plots/{plotCode}` answers the holder
 * only on both twins; `PATCH /plots/{plotCode}` and `DELETE /plots/{plotCode}` accept any member on the vulnerable
 * twin, the holder only on the fixed one.
 *
 * Without --allow-destructive the scan changes and deletes nothing of the members' (no object of its own to try
 * them on) and says so in the coverage: "not tested ... --allow-destructive tests it". With it, the vulnerable
 * twin's write and delete are found, the fixed twin's are not.
 */
const idParam = [{ name: 'plotCode', in: 'path', required: true, schema: { type: 'string' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'garden plots', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Plot-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/plots/{plotCode}': {
      get: { operationId: 'getPlot', parameters: idParam, responses: { '200': { description: 'plot' } } },
      patch: {
        operationId: 'editPlot',
        parameters: idParam,
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { crops: { type: 'string', maxLength: 200 } } },
            },
          },
        },
        responses: { '200': { description: 'plot' } },
      },
      delete: { operationId: 'dropPlot', parameters: idParam, responses: { '204': { description: 'gone' } } },
    },
  },
};

const KEYS: Record<string, string> = { 'pk-a-41d9': 'alice', 'pk-b-07ce': 'bob' };

function startPlots(fixed: boolean) {
  const plots = new Map([
    ['GP-A12', { holder: 'alice', crops: 'beans, chard', phone: '+44 20 7946 0011' }],
    ['GP-B07', { holder: 'bob', crops: 'potatoes', phone: '+44 20 7946 0022' }],
  ]);
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://plots').pathname;
    const text = (status: number, t: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${t}\n`);
    };
    const who = KEYS[String(req.headers['x-plot-key'] ?? '')];
    if (!who) return text(401, 'unauthorized');
    const m = /^\/plots\/([^/]+)$/.exec(path);
    const code = m ? decodeURIComponent(m[1]) : '';
    const plot = plots.get(code);
    if (!plot) return text(404, '404 page not found');
    const holder = plot.holder === who;
    if (req.method === 'GET') return holder ? sendJson(res, 200, { code, ...plot }) : text(404, 'not found');
    if (fixed && !holder) return text(404, 'not found');
    if (req.method === 'PATCH') {
      if (typeof body?.crops === 'string') plot.crops = body.crops.slice(0, 200);
      return sendJson(res, 200, { code, ...plot });
    }
    if (req.method === 'DELETE') {
      plots.delete(code);
      res.writeHead(204).end();
      return;
    }
    return text(405, 'method not allowed');
  }).then((api) => Object.assign(api, { plots }));
}

const identities = [
  { name: 'alice', headers: { 'X-Plot-Key': 'pk-a-41d9' }, params: { plotCode: 'GP-A12' } },
  { name: 'bob', headers: { 'X-Plot-Key': 'pk-b-07ce' }, params: { plotCode: 'GP-B07' } },
];

async function scan(fixed: boolean, allowDestructive: boolean) {
  const api = await startPlots(fixed);
  try {
    const result = await scanDocument(SPEC, api.url, {
      identities,
      ratePerSecond: 200,
      checks: ['API1'],
      allowDestructive,
    });
    return { result, plots: api.plots };
  } finally {
    api.server.close();
  }
}

describe("API1 says a write of a given identity's object needs --allow-destructive, and sends none", () => {
  const runs = {} as Record<'plain' | 'destructive' | 'fixed', Awaited<ReturnType<typeof scan>>>;
  before(async () => {
    runs.plain = await scan(false, false);
    runs.destructive = await scan(false, true);
    runs.fixed = await scan(true, true);
  });

  test('plain scan: nothing changed or deleted, and the coverage says why the write and delete went untested', () => {
    assert.deepEqual(operationsFound(runs.plain.result), []);
    assert.deepEqual(
      [...runs.plain.plots].map(([code, p]) => `${code}:${p.crops}`),
      ['GP-A12:beans, chard', 'GP-B07:potatoes'],
    );
    for (const op of ['PATCH /plots/{plotCode}', 'DELETE /plots/{plotCode}']) {
      const cell = runs.plain.result.coverage.matrix.find((c) => c.check === 'API1' && c.operation === op);
      assert.equal(cell?.status, 'skipped', JSON.stringify(cell));
      assert.match(cell?.reason ?? '', /not tested: .*--allow-destructive tests it/, JSON.stringify(cell));
    }
  });

  test('with --allow-destructive: the vulnerable twin is found, the fixed twin is not', () => {
    const found = operationsFound(runs.destructive.result);
    assert.ok(found.includes('scan/api1-bola-write editPlot'), found.join());
    assert.ok(found.includes('scan/api1-bola-delete dropPlot'), found.join());
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });
});
