import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A hosting control panel (Express-style, `X-Api-Key` per customer, an operator key): each customer reads its
 * own managed databases (their connection URI, an address on the provider's private network), its own home
 * routers' settings (a LAN address; both customers' routers kept the factory default 192.168.1.1) and its own
 * OAuth clients (their client secret). Others get 404, anonymous callers 401. None of these is a configuration
 * leak: each is a customer's own record, read by its owner.
 *
 * Leaks beside them: `GET /api/v1/regions/{region}` serves every customer the same record, with the panel's own
 * database address in it, and `GET /api/v1/debug/vars` (no path parameter, a debug route) shows its debug switch
 * and cache host to any customer.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'panel', version: '1.4.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/v1/databases': {
      get: { operationId: 'listDatabases', responses: { '200': { description: 'mine' } } },
    },
    '/api/v1/databases/{db_id}': {
      get: {
        operationId: 'getDatabase',
        parameters: [{ name: 'db_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'one of mine' }, '404': { description: 'not mine' } },
      },
    },
    '/api/v1/routers': {
      get: { operationId: 'listRouters', responses: { '200': { description: 'mine' } } },
    },
    '/api/v1/routers/{router_id}/config': {
      get: {
        operationId: 'routerConfig',
        parameters: [{ name: 'router_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'settings' }, '404': { description: 'not mine' } },
      },
    },
    '/api/v1/clients': {
      get: { operationId: 'listClients', responses: { '200': { description: 'mine' } } },
    },
    '/api/v1/clients/{client_id}': {
      get: {
        operationId: 'getClient',
        parameters: [{ name: 'client_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'with its secret' }, '404': { description: 'not mine' } },
      },
    },
    '/api/v1/regions': {
      get: { operationId: 'listRegions', responses: { '200': { description: 'regions' } } },
    },
    '/api/v1/regions/{region}': {
      get: {
        operationId: 'getRegion',
        parameters: [{ name: 'region', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a region' } },
      },
    },
    '/api/v1/debug/vars': {
      get: { operationId: 'debugVars', responses: { '200': { description: 'vars' } } },
    },
  },
};

const KEYS: Record<string, string> = { 'pk-alice-51d0': 'alice', 'pk-bob-7e21': 'bob', 'pk-ops-0c44': 'ops' };
const DATABASES = [
  { id: 1, owner: 'alice', name: 'shop-db', connection_uri: 'postgresql://app@10.20.4.12:5432/shop' },
  { id: 2, owner: 'bob', name: 'blog-db', connection_uri: 'mysql://blog@10.20.7.3:3306/blog' },
];
const ROUTERS = [
  { id: 11, owner: 'alice', model: 'HX-200', lan_ip: '192.168.1.1', debug: true },
  { id: 12, owner: 'bob', model: 'HX-300', lan_ip: '192.168.1.1', debug: true },
];
const CLIENTS = [
  { client_id: 'cl-a1', owner: 'alice', client_secret: 'cs-2f9d71c04b' },
  { client_id: 'cl-b1', owner: 'bob', client_secret: 'cs-88aa0e6d13' },
];

/** Every 200 the panel gave: `who GET path`. */
const served: string[] = [];

function startPanel() {
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    for await (const _ of req);
    const who: string | undefined = KEYS[String(req.headers['x-api-key'] ?? '')];
    const send = (status: number, payload: unknown) => {
      if (status === 200 && served.length < 5000) served.push(`${who} ${req.method} ${req.url}`);
      sendJson(res, status, payload, GUARDED_JSON);
    };
    if (!who) return send(401, { error: 'unauthorized' });
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    const path = (req.url ?? '/').split('?')[0];
    const seg = path.split('/');
    const mine = <T extends { owner: string }>(rows: T[]) =>
      rows.filter((r) => who === 'ops' || r.owner === who);
    if (path === '/api/v1/databases')
      return send(
        200,
        mine(DATABASES).map(({ id, name }) => ({ id, name })),
      );
    if (path === '/api/v1/routers')
      return send(
        200,
        mine(ROUTERS).map(({ id, model }) => ({ id, model })),
      );
    if (path === '/api/v1/clients')
      return send(
        200,
        mine(CLIENTS).map(({ client_id }) => ({ client_id })),
      );
    if (seg.length === 5 && seg[3] === 'databases') {
      const d = mine(DATABASES).find((x) => String(x.id) === seg[4]);
      return d ? send(200, { id: d.id, name: d.name, connection_uri: d.connection_uri }) : send(404, {});
    }
    if (seg.length === 6 && seg[3] === 'routers' && seg[5] === 'config') {
      const r = mine(ROUTERS).find((x) => String(x.id) === seg[4]);
      return r ? send(200, { lan_ip: r.lan_ip, dhcp: true, debug: r.debug }) : send(404, {});
    }
    if (seg.length === 5 && seg[3] === 'clients') {
      const c = mine(CLIENTS).find((x) => x.client_id === seg[4]);
      return c ? send(200, { client_id: c.client_id, client_secret: c.client_secret }) : send(404, {});
    }
    if (path === '/api/v1/regions') return send(200, [{ region: 'eu-1' }, { region: 'us-2' }]);
    if (seg.length === 5 && seg[3] === 'regions' && (seg[4] === 'eu-1' || seg[4] === 'us-2'))
      return send(200, {
        region: seg[4],
        status: 'ok',
        panel_db: 'postgresql://panel@10.0.0.5:5432/panel',
      });
    if (path === '/api/v1/debug/vars')
      return send(200, { debug: true, cache_host: 'redis-0.panel.internal:6379', workers: 4 });
    return send(404, { error: 'not found' });
  });
}

describe("configuration exposure: the deployment's settings, not a customer's own records", () => {
  let result: ScanResult;
  before(async () => {
    const api = await startPanel();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [
          { name: 'alice', headers: { 'x-api-key': 'pk-alice-51d0' } },
          { name: 'bob', headers: { 'x-api-key': 'pk-bob-7e21' } },
        ],
        admin: { name: 'ops', headers: { 'x-api-key': 'pk-ops-0c44' } },
        checks: ['API1', 'API8'],
        ratePerSecond: 200,
      });
    } finally {
      api.server.close();
    }
  });
  const exposure = () => result.findings.filter((f) => f.rule.id === 'scan/api8-configuration-exposure');

  test('each owner read its own records (the readings below are real)', () => {
    for (const read of [
      'alice GET /api/v1/databases/1',
      'alice GET /api/v1/routers/11/config',
      'alice GET /api/v1/clients/cl-a1',
    ])
      assert.ok(served.includes(read), `${read} not among:\n${served.join('\n')}`);
  });

  test("a database's address, a router's LAN address, an OAuth client's secret, read by their owner: nothing", () => {
    const owned = ['getDatabase', 'routerConfig', 'getClient'];
    assert.deepEqual(
      exposure()
        .filter((f) => owned.includes(f.operation?.operationId ?? ''))
        .map((f) => `${f.operation?.operationId}: ${f.message}`),
      [],
    );
  });

  test('the same database address served to every customer at one URL: found, naming both callers', () => {
    const f = exposure().find((x) => x.operation?.operationId === 'getRegion');
    assert.ok(
      f,
      exposure()
        .map((x) => x.message)
        .join('\n'),
    );
    assert.match(f.message, /\/panel_db \(a backing service's address\)/);
    assert.match(f.message, /to (alice and bob|bob and alice)/);
  });

  test('a debug route without a path parameter: found from one answer', () => {
    const f = exposure().find((x) => x.operation?.operationId === 'debugVars');
    assert.ok(
      f,
      exposure()
        .map((x) => x.message)
        .join('\n'),
    );
    assert.match(f.message, /\/debug true/);
    assert.match(f.message, /redis-0\.panel\.internal:6379/);
  });
});
