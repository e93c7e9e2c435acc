import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { findingOn, headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A courier depot's API in hapi's style (Boom errors `{statusCode, error, message}`, `X-Depot-Token`), hosted far
 * away: every answer comes after 150 ms. Many reference lists (depots, vans, zones, tariffs...) and one thing a
 * caller makes: parcels (`POST /parcels`), read, relabelled and cancelled at `/parcels/{parcelId}`. Neither
 * identity has a parcel before the scan: the only parcel ids are those the scan makes.
 *
 * Vulnerable twin: `GET /parcels/{parcelId}` answers any parcel to anyone signed in. Fixed twin: its sender only.
 * Review R1: on such a slow target discovery spent its share of the time on the reads of the lists by every
 * identity and made no parcel, so API1 had nothing to swap and the open read went unreported.
 */
const DELAY_MS = 150;
const LISTS = ['depots', 'vans', 'zones', 'tariffs', 'holidays', 'notices', 'drivers', 'routes', 'services'];
const parcelParam = { name: 'parcelId', in: 'path', required: true, schema: { type: 'integer' } };
const Parcel = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    sender: { type: 'string' },
    recipient: { type: 'string' },
    street: { type: 'string' },
    weight_grams: { type: 'integer' },
    depot_id: { type: 'integer' },
    label: { type: 'string' },
  },
};
const paths: Record<string, unknown> = {
  '/me': { get: { operationId: 'whoAmI', responses: { '200': { description: 'the caller' } } } },
  '/parcels': {
    get: { operationId: 'myParcels', responses: { '200': { description: "the caller's parcels" } } },
    post: {
      operationId: 'sendParcel',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['recipient', 'street', 'weight_grams', 'depot_id'],
              properties: {
                recipient: { type: 'string', example: 'Ines Duarte' },
                street: { type: 'string', example: 'Rua das Flores 12' },
                weight_grams: { type: 'integer', minimum: 1, maximum: 30000 },
                depot_id: { type: 'integer' },
              },
            },
          },
        },
      },
      responses: { '201': { description: 'booked', content: { 'application/json': { schema: Parcel } } } },
    },
  },
  '/parcels/{parcelId}': {
    get: {
      operationId: 'getParcel',
      description: "The parcel's sender only.",
      parameters: [parcelParam],
      responses: { '200': { description: 'parcel', content: { 'application/json': { schema: Parcel } } } },
    },
    patch: {
      operationId: 'relabelParcel',
      parameters: [parcelParam],
      requestBody: {
        content: {
          'application/json': { schema: { type: 'object', properties: { label: { type: 'string' } } } },
        },
      },
      responses: { '200': { description: 'relabelled' } },
    },
    delete: {
      operationId: 'cancelParcel',
      parameters: [parcelParam],
      responses: { '204': { description: 'cancelled' } },
    },
  },
};
for (const name of LISTS) {
  const one = name.slice(0, -1);
  paths[`/${name}`] = { get: { operationId: `list_${name}`, responses: { '200': { description: name } } } };
  paths[`/${name}/{${one}Id}`] = {
    get: {
      operationId: `get_${one}`,
      parameters: [{ name: `${one}Id`, in: 'path', required: true, schema: { type: 'integer' } }],
      responses: { '200': { description: one } },
    },
  };
}
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'courier depot', version: '2.4.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Depot-Token' } } },
  security: [{ token: [] }],
  paths,
};

const USERS = [
  { login: 'marta', token: 'dp-marta-5f13a0' },
  { login: 'tomas', token: 'dp-tomas-c8e2b7' },
];

interface Depot extends TwinTarget {
  readonly parcels: Map<number, Record<string, unknown>>;
}

function boom(res: ServerResponse, statusCode: number, error: string, message: string) {
  sendJson(res, statusCode, { statusCode, error, message });
}

function startDepot(fixed: boolean): Promise<Depot> {
  const parcels = new Map<number, Record<string, unknown>>();
  let next = 7001;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' || req.method === 'PATCH' ? await readJson(req) : undefined;
    if (req.method !== 'POST' && req.method !== 'PATCH') req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const user = USERS.find((u) => u.token === req.headers['x-depot-token']);
    if (!user) return boom(res, 401, 'Unauthorized', 'Missing authentication');
    if (req.method === 'GET' && path === '/me') return sendJson(res, 200, { login: user.login });
    if (path === '/parcels' && req.method === 'GET')
      return sendJson(
        res,
        200,
        [...parcels.values()].filter((p) => p.sender === user.login),
      );
    if (path === '/parcels' && req.method === 'POST') {
      const b = body ?? {};
      if (
        typeof b.recipient !== 'string' ||
        typeof b.street !== 'string' ||
        !Number.isInteger(b.weight_grams) ||
        !Number.isInteger(b.depot_id)
      )
        return boom(res, 400, 'Bad Request', 'Invalid request payload input');
      const parcel = { id: next++, sender: user.login, ...b, label: `PX-${next}` };
      parcels.set(parcel.id as number, parcel);
      return sendJson(res, 201, parcel);
    }
    const p = /^\/parcels\/(\d+)$/.exec(path);
    if (p) {
      const parcel = parcels.get(Number(p[1]));
      const mine = parcel !== undefined && parcel.sender === user.login;
      if (!parcel || (!mine && (fixed || req.method !== 'GET')))
        return boom(res, 404, 'Not Found', 'Not Found');
      if (req.method === 'GET') return sendJson(res, 200, parcel);
      if (req.method === 'PATCH') {
        if (typeof body?.label === 'string') parcel.label = body.label;
        return sendJson(res, 200, parcel);
      }
      if (req.method === 'DELETE') {
        parcels.delete(parcel.id as number);
        res.writeHead(204);
        return res.end();
      }
    }
    const l = /^\/(\w+)(?:\/(\d+))?$/.exec(path);
    if (req.method === 'GET' && l && LISTS.includes(l[1])) {
      const items = [1, 2, 3].map((id) => ({ id, name: `${l[1]} ${id}` }));
      if (l[2] === undefined) return sendJson(res, 200, items);
      const item = items.find((i) => i.id === Number(l[2]));
      return item ? sendJson(res, 200, item) : boom(res, 404, 'Not Found', 'Not Found');
    }
    boom(res, 404, 'Not Found', 'Not Found');
  };
  return startServer((req, res) => {
    setTimeout(() => handle(req, res).catch(() => res.destroy()), DELAY_MS);
  }).then((s) => ({ url: s.url, server: s.server, parcels }));
}

describe('a target that answers slowly', { timeout: 300_000 }, () => {
  let runs: TwinScans<Depot>;
  before(async () => {
    runs = await scanTwins(SPEC, startDepot, {
      identities: headerIdentities('X-Depot-Token', Object.fromEntries(USERS.map((u) => [u.login, u.token]))),
    });
  });

  test('discovery still makes the scan its objects, and API1 finds the open parcel read', () => {
    const { result } = runs.vulnerable;
    assert.ok(result.stats.objectsCreated >= 1, JSON.stringify(result.phases));
    assert.ok(findingOn(result, 'scan/api1-bola-read', 'getParcel'), JSON.stringify(result.phases));
  });

  test('the fixed twin gives no API1 finding, and both scans end within the time', () => {
    assert.equal(runs.fixed.result.stats.objectsCreated >= 1, true, JSON.stringify(runs.fixed.result.phases));
    assert.deepEqual(
      runs.fixed.result.findings.filter((f) => f.rule.id.startsWith('scan/api1-')).map((f) => f.rule.id),
      [],
    );
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.ok(
        runs[kind].result.stats.durationMs < 60_000,
        `${kind}: ${runs[kind].result.stats.durationMs} ms`,
      );
      assert.equal(runs[kind].api.parcels.size, 0, `${kind}: the scan's parcels were left`);
    }
  });
});
