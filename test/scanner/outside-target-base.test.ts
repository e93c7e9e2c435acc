import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * The scan is pointed at `http://host/api/v2` (the document's server); what the host serves outside that base was
 * never asked (the session-14 start measurement: an Express API's `/debug` and its older `/api/v1/users` sat at the
 * host's root, all probes went below `/api/v2`).
 *
 * Style: an Express app beside a single-page front end: every path the API does not know is the front end's
 * `index.html` (200, text/html), the API under `/api/v2` answers bare JSON, `{"error": "..."}` errors, keys in
 * `Authorization: Key <k>`. The vulnerable twin still serves `GET /debug` (its settings) and the old
 * `GET /api/v1/users` (every user's e-mail, no key needed); the fixed twin serves neither: both are its front end's
 * page there, as is any made-up path (the control).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'crm', version: '2' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ key: [] }],
  paths: {
    '/users': {
      get: { operationId: 'listUsers', responses: { '200': { description: 'users you manage' } } },
    },
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'you' } } } },
  },
};

const KEYS: Record<string, string> = { 'Key k-ana-5521': 'ana', 'Key k-ben-7730': 'ben' };
const INDEX = '<!doctype html><html><head><title>CRM</title></head><body><div id="root"></div></body></html>';

function startCrm(fixed: boolean): Promise<TwinTarget> {
  return startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    if (path.startsWith('/api/v2/')) {
      const who = KEYS[req.headers.authorization ?? ''];
      if (!who) return send(401, { error: 'a key is required' });
      if (req.method === 'GET' && path === '/api/v2/me') return send(200, { name: who });
      if (req.method === 'GET' && path === '/api/v2/users') return send(200, [{ name: who }]);
      return send(404, { error: 'no such route' });
    }
    if (!fixed && req.method === 'GET' && path === '/debug')
      return send(200, { env: 'production', db_host: 'crm-db.internal:5432', cache: 'redis', workers: 4 });
    if (!fixed && req.method === 'GET' && path === '/api/v1/users')
      return send(200, [
        { name: 'ana', email: 'ana@crm.test' },
        { name: 'ben', email: 'ben@crm.test' },
      ]);
    // The front end: its page for every other path.
    res.writeHead(200, { 'content-type': 'text/html', 'x-content-type-options': 'nosniff' });
    res.end(INDEX);
  }).then((api) => Object.assign(api, { url: `${api.url}/api/v2` }));
}

const lines = (r: ScanResult) => r.findings.map((f) => `${f.rule.id}: ${f.message}`);

describe("what the host serves outside the target's base path", () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startCrm, {
      identities: [
        { name: 'ana', headers: { authorization: 'Key k-ana-5521' } },
        { name: 'ben', headers: { authorization: 'Key k-ben-7730' } },
      ],
      checks: ['API9'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: /debug at the root and the older /api/v1/users are reported', () => {
    const found = lines(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.includes("GET /debug at the host's root, outside the target's base /api/v2")),
      JSON.stringify(found),
    );
    assert.ok(
      found.some((m) => m.includes('GET /api/v1/users answers beside the documented /api/v2/users')),
      JSON.stringify(found),
    );
  });

  test("fixed: the front end's page everywhere is no finding", () => {
    assert.deepEqual(lines(runs.fixed.result), []);
  });
});
