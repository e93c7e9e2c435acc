import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An Actix-style warehouse inventory service: an `X-Auth` key per clerk (two clerks and a manager), scanners
 * registered with their LAN address, item links that name the service's own address.
 *
 * Vulnerable: `GET /api9/internal/config` answers everyone alike, anonymous callers included, with its debug
 * switch on, its stage, its database's private address and DSN and its framework's version (API8 configuration
 * exposure, not API5: nothing says a role is meant for it, and no one is refused there); `GET
 * /api/admin/stock-report` is served to any clerk (API5, anonymous callers get 401). Fixed twin: the config
 * route says only the service's name and state, and the report refuses clerks (403).
 *
 * Both twins: item links carrying the target's own loopback address, a scanner's private address that the
 * client itself registered, the caller's own address under `client_ip`, a clerk's own `debug: true`
 * preference and the API's own version on `/api/health`: none is a finding.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'inventory', version: '2.1.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Auth' } } },
  security: [{ key: [] }],
  paths: {
    '/api9/internal/config': {
      get: {
        operationId: 'getConfig',
        summary: 'Service configuration',
        security: [],
        responses: { '200': { description: 'config' } },
      },
    },
    '/api/health': {
      get: { operationId: 'health', security: [], responses: { '200': { description: 'up' } } },
    },
    '/api/items': { get: { operationId: 'listItems', responses: { '200': { description: 'items' } } } },
    '/api/scanners': {
      get: { operationId: 'listScanners', responses: { '200': { description: 'scanners' } } },
      post: {
        operationId: 'addScanner',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['label', 'ip'],
                properties: {
                  label: { type: 'string', example: 'dock-3' },
                  ip: { type: 'string', example: '192.168.40.12' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'registered' } },
      },
    },
    '/api/whoami': { get: { operationId: 'whoami', responses: { '200': { description: 'me' } } } },
    '/api/preferences': {
      get: { operationId: 'preferences', responses: { '200': { description: 'prefs' } } },
    },
    '/api/admin/stock-report': {
      get: {
        operationId: 'stockReport',
        summary: 'Stock valuation',
        responses: { '200': { description: 'report' } },
      },
    },
  },
};

const CLERKS: Record<string, string> = { 'wh-k1-5d1e': 'dana', 'wh-k2-90ab': 'eli' };
const MANAGER = 'wh-m-77f3';

function startInventory(fixed: boolean) {
  const scanners: { id: number; label: string; ip: string; owner: string }[] = [];
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown) => sendJson(res, status, payload, GUARDED_JSON);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '/').split('?')[0];
    const host = req.headers.host ?? '127.0.0.1';
    if (req.method === 'GET' && path === '/api9/internal/config')
      return send(
        200,
        fixed
          ? { service: 'inventory', state: 'running' }
          : {
              service: 'inventory',
              debug: true,
              environment: 'development',
              framework: 'actix-web 4.4.0',
              database: { host: '10.20.0.7', dsn: 'postgresql://inventory@10.20.0.7:5432/inventory' },
            },
      );
    if (req.method === 'GET' && path === '/api/health')
      return send(200, { status: 'UP', version: '2.1.0', environment: 'production' });
    const key = String(req.headers['x-auth'] ?? '');
    const who = CLERKS[key] ?? (key === MANAGER ? 'mara' : undefined);
    if (!who) return send(401, { error: 'missing or unknown X-Auth' });
    if (req.method === 'GET' && path === '/api/items')
      return send(200, [
        { id: 1, sku: 'BOLT-M8', qty: 400, self: `http://${host}/api/items/1` },
        { id: 2, sku: 'NUT-M8', qty: 380, self: `http://${host}/api/items/2` },
      ]);
    if (path === '/api/scanners' && req.method === 'GET')
      return send(
        200,
        scanners.filter((s) => s.owner === who),
      );
    if (path === '/api/scanners' && req.method === 'POST') {
      let body: { label?: unknown; ip?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      } catch {
        return send(400, { error: 'bad json' });
      }
      if (typeof body.label !== 'string' || typeof body.ip !== 'string')
        return send(400, { error: 'label and ip required' });
      const s = { id: scanners.length + 1, label: body.label, ip: body.ip, owner: who };
      if (scanners.length < 200) scanners.push(s);
      return send(201, { scanner: { id: s.id, label: s.label, ip: s.ip, host: s.ip } });
    }
    if (req.method === 'GET' && path === '/api/whoami')
      return send(200, { user: who, client_ip: req.socket.remoteAddress ?? '', debug: false });
    if (req.method === 'GET' && path === '/api/preferences')
      return send(200, { theme: 'dark', debug: true, page_size: 50 });
    if (req.method === 'GET' && path === '/api/admin/stock-report') {
      if (fixed && who !== 'mara') return send(403, { error: 'managers only' });
      return send(200, { valuation: 18250.5, currency: 'EUR', lines: 2 });
    }
    return send(404, { error: 'not found' });
  });
}

describe('debug data in JSON answers, and an internal route everyone gets alike', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startInventory, {
      identities: Object.keys(CLERKS).map((k) => ({ name: CLERKS[k], headers: { 'x-auth': k } })),
      admin: { name: 'mara', headers: { 'x-auth': MANAGER } },
      checks: ['API5', 'API8'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the config route's debug switch, stage, private database address and DSN: API8", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api8-configuration-exposure' && x.operation?.operationId === 'getConfig',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.severity, 'medium');
    assert.match(f.message, /\/database\/dsn \(a backing service's address\)/);
    assert.match(f.message, /\/debug true/);
    assert.match(f.message, /10\.20\.0\.7/);
  });

  test('not API5: everyone gets it alike and nothing says a role is meant for it', () => {
    assert.ok(
      !runs.vulnerable.findings.some(
        (x) => x.rule.id === 'scan/api5-bfla' && x.operation?.operationId === 'getConfig',
      ),
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test("the manager's report served to a clerk is still API5", () => {
    assert.ok(
      runs.vulnerable.findings.some(
        (x) => x.rule.id === 'scan/api5-bfla' && x.operation?.operationId === 'stockReport',
      ),
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test("links to the target, a registered scanner, the caller's own address, a preference: nothing", () => {
    const quiet = ['listItems', 'addScanner', 'listScanners', 'whoami', 'preferences', 'health'];
    const noisy = runs.vulnerable.findings.filter((x) => quiet.includes(x.operation?.operationId ?? ''));
    assert.deepEqual(
      noisy.map((x) => `${x.rule.id} ${x.operation?.operationId}`),
      [],
    );
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
