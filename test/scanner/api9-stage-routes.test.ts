import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Routes left from development under the API's base and its other versions, which no document lists: a test
 * route showing the server's settings (`/api/v2/dev-test`), a legacy route of the first version serving every
 * plant's record without credentials (`/api/v1/legacy-api`), a beta route (`/api/beta`), a first version's
 * leftover at the root answering plain text (`/v1/old`). Missed in session 14 (two
 * third-party APIs had `/dev-test` and `/v1/legacy-api`): the inventory looked for `/test` and `/dev` only.
 *
 * Style: a plant nursery on node:http, Express-like, base `/api/v2`, bearer tokens from `POST /api/v2/login`. The fixed
 * twin has none of those routes and answers every unknown path with a 200 `{ok: false, message: "no route GET
 * <path>"}` (a catch-all), which must not be taken for a route.
 */
const bearer = [{ bearer: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'nursery', version: '2.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/v2/login': {
      post: {
        operationId: 'login',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { user: { type: 'string' }, pass: { type: 'string' } },
                required: ['user', 'pass'],
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/api/v2/plants': {
      get: { operationId: 'listPlants', security: bearer, responses: { '200': { description: 'plants' } } },
    },
    '/api/v2/plants/{plant_id}': {
      get: {
        operationId: 'getPlant',
        security: bearer,
        parameters: [{ name: 'plant_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a plant' }, '404': { description: 'none' } },
      },
    },
  },
};

const PEOPLE = [
  { user: 'fern', pass: 'fern-pass-5521' },
  { user: 'moss', pass: 'moss-pass-5521' },
];
const PLANTS = [
  { id: 1, name: 'olive', owner: 'fern', cost_price: 4.1 },
  { id: 2, name: 'fig', owner: 'moss', cost_price: 6.3 },
];

function startNursery(fixed: boolean): Promise<TwinTarget> {
  const tokens = new Map<string, string>();
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const unknown = () =>
      fixed
        ? send(200, { ok: false, message: `no route ${req.method} ${url.pathname}` })
        : send(404, { ok: false, message: 'Not Found' });
    if (req.method === 'POST' && url.pathname === '/api/v2/login') {
      const p = PEOPLE.find((x) => x.user === b.user && x.pass === b.pass);
      if (!p) return send(401, { ok: false, message: 'wrong user or pass' });
      const t = randomBytes(18).toString('hex');
      tokens.set(t, p.user);
      return send(200, { ok: true, token: t });
    }
    if (!fixed && req.method === 'GET') {
      if (url.pathname === '/api/v2/dev-test')
        return send(200, {
          ok: true,
          mode: 'development',
          database: 'sqlite:///srv/nursery.db',
          seeded: true,
        });
      if (url.pathname === '/api/v1/legacy-api') return send(200, { ok: true, plants: PLANTS });
      if (url.pathname === '/v1/old') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('old nursery API, still here');
      }
      if (url.pathname === '/api/beta')
        return send(200, { ok: true, features: ['bulk-import', 'price-rules'] });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (req.method === 'GET' && url.pathname.startsWith('/api/v2/plants')) {
      if (!who) return send(401, { ok: false, message: 'token required' });
      const mine = PLANTS.filter((p) => p.owner === who).map(({ cost_price: _, ...p }) => p);
      if (url.pathname === '/api/v2/plants') return send(200, { ok: true, plants: mine });
      const one = mine.find((p) => `/api/v2/plants/${p.id}` === url.pathname);
      return one ? send(200, { ok: true, plant: one }) : send(404, { ok: false, message: 'no such plant' });
    }
    return unknown();
  });
}

const inventory = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api9-undocumented-endpoint')
    .map((f) => f.operation?.path ?? '')
    .sort();

describe('development, test and legacy routes under the base and its versions', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startNursery, {
      identities: PEOPLE.map((p) => ({ name: p.user, login: { path: '/api/v2/login', body: p } })),
      checks: ['API9'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: each leftover route is reported at its own path', () => {
    assert.deepEqual(inventory(runs.vulnerable.result), [
      '/api/beta',
      '/api/v1/legacy-api',
      '/api/v2/dev-test',
      '/v1/old',
    ]);
  });

  test('fixed: a catch-all answering 200 to every unknown path gives no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });

  test('the inventory stays a bounded number of requests', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api9 = runs[kind].result.phases?.find((p) => p.name === 'API9');
      assert.ok(api9 !== undefined && api9.requests < 400, `${kind}: ${JSON.stringify(api9)}`);
    }
  });
});
