import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readText, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Two misconfigurations a penetration tester reports, each against a control:
 *
 * - cross-site tracing: the vulnerable twin answers TRACE on every route by echoing the request (its headers, the
 *   caller's token among them); the fixed twin answers 405. Both serve `GET /v2/echo`, a request inspector that shows
 *   a client its own headers whatever the method: a TRACE echoed there proves nothing, since a GET is echoed too;
 * - secrets in errors on malformed input: the vulnerable twin answers an order number that is no number with a 500
 *   whose trace holds the database's connection string with its password, and a JSON body cut short with a 400 whose
 *   debug text holds `STRIPE_API_KEY=...` (on every route: the body is read first); the fixed twin answers both with a plain reason. Both answer a short
 *   password at sign-up with an error code (`PASSWORD_TOO_SHORT: ...`) and the input echoed back (the scan's own
 *   values): no secret of the server's.
 *
 * Both twins answer `Access-Control-Allow-Origin: *`, the fixed twin with `Allow-Credentials: true` beside it, which
 * browsers refuse for credentialed reads: no CORS finding.
 *
 * Style: Koa-like, `/v2` prefix, snake_case, `X-Auth-Token` header keys from `POST /v2/login {user, pass}`
 * answering `{ok: true, auth_token}`, every error `{ok: false, reason}`, integer order numbers.
 */
const obj = (properties: Record<string, unknown>, required?: string[]) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', properties, ...(required ? { required } : {}) } },
  },
});
const ok = (description: string) => ({ description, content: { 'application/json': { schema: {} } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shop', version: '2' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/v2/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: obj({ user: { type: 'string' }, pass: { type: 'string' } }, ['user', 'pass']),
        responses: { '200': ok('a token'), '401': { description: 'refused' } },
      },
    },
    '/v2/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: obj({ user: { type: 'string' }, pass: { type: 'string', minLength: 12 } }, [
          'user',
          'pass',
        ]),
        responses: { '201': ok('an account'), '422': { description: 'invalid' } },
      },
    },
    '/v2/catalog': { get: { operationId: 'catalog', security: [], responses: { '200': ok('products') } } },
    '/v2/echo': {
      get: { operationId: 'echo', security: [], responses: { '200': ok('the request headers you sent') } },
    },
    '/v2/orders': {
      get: { operationId: 'listOrders', responses: { '200': ok('your orders') } },
      post: {
        operationId: 'createOrder',
        requestBody: obj({ sku: { type: 'string', example: 'mug-01' }, qty: { type: 'integer' } }, ['sku']),
        responses: { '201': ok('the order'), '400': { description: 'invalid' } },
      },
    },
    '/v2/orders/{order_no}': {
      get: {
        operationId: 'getOrder',
        parameters: [{ name: 'order_no', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('an order'), '404': { description: 'none of yours' } },
      },
    },
  },
};

interface Order {
  order_no: number;
  owner: string;
  sku: string;
  qty: number;
}

const USERS: Record<string, string> = { alice: 'alice-pass-1234', bob: 'bob-pass-5678' };

/** The request as a TRACE answer shows it (RFC 9110 §9.3.8: the request line and header fields). */
function traceEcho(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function startShop(fixed: boolean): Promise<TwinTarget & { orders: Order[] }> {
  const orders: Order[] = [
    { order_no: 1001, owner: 'alice', sku: 'mug-01', qty: 2 },
    { order_no: 1002, owner: 'bob', sku: 'cap-07', qty: 1 },
  ];
  const tokens = new Map<string, string>();
  const accounts = new Map(Object.entries(USERS));
  const dbPassword = `pg-${randomBytes(6).toString('hex')}`;
  const stripeKey = `sk_live_${randomBytes(12).toString('hex')}`;
  let next = 2000;
  return startServer(async (req, res) => {
    const text = await readText(req);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    // Both twins allow any origin without naming one; the fixed twin also says credentials are allowed, which
    // browsers refuse beside `*` (no crafted origin reads with the caller's credentials): no CORS finding.
    const cors = {
      'access-control-allow-origin': '*',
      ...(fixed ? { 'access-control-allow-credentials': 'true' } : {}),
    };
    const send = (status: number, body: unknown) => sendJson(res, status, body, { ...GUARDED_JSON, ...cors });
    if (path === '/v2/echo') {
      // A request inspector: any method, the headers a client sent (its token left out).
      const { 'x-auth-token': _, ...headers } = req.headers;
      return send(200, { ok: true, method: req.method, headers });
    }
    if (req.method === 'TRACE') {
      if (fixed) return send(405, { ok: false, reason: 'method not allowed' });
      res.writeHead(200, { 'content-type': 'message/http', 'x-content-type-options': 'nosniff' });
      return res.end(traceEcho(req));
    }
    let body: Record<string, unknown> = {};
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch (e) {
        if (fixed) return send(400, { ok: false, reason: 'the body is not JSON' });
        return send(400, {
          ok: false,
          reason: 'bad request',
          debug: `${(e as Error).message}\nloaded settings: NODE_ENV=production STRIPE_API_KEY=${stripeKey} LOG_LEVEL=info`,
        });
      }
    }
    if (req.method === 'POST' && path === '/v2/login') {
      if (typeof body.user !== 'string' || accounts.get(body.user) !== body.pass)
        return send(401, { ok: false, reason: 'wrong user or pass' });
      const t = randomBytes(16).toString('hex');
      tokens.set(t, body.user);
      return send(200, { ok: true, auth_token: t });
    }
    if (req.method === 'POST' && path === '/v2/signup') {
      if (typeof body.user !== 'string' || typeof body.pass !== 'string' || body.pass.length < 12)
        return send(422, {
          ok: false,
          reason: 'PASSWORD_TOO_SHORT: pass must have 12 characters',
          input: body,
        });
      if (accounts.has(body.user) || accounts.size > 50) return send(409, { ok: false, reason: 'taken' });
      accounts.set(body.user, body.pass);
      return send(201, { ok: true, user: body.user });
    }
    if (req.method === 'GET' && path === '/v2/catalog')
      return send(200, { ok: true, items: ['mug-01', 'cap-07'] });
    const who = tokens.get(String(req.headers['x-auth-token'] ?? ''));
    if (!who) return send(401, { ok: false, reason: 'no token' });
    if (req.method === 'GET' && path === '/v2/orders')
      return send(200, { ok: true, orders: orders.filter((o) => o.owner === who) });
    if (req.method === 'POST' && path === '/v2/orders') {
      if (typeof body.sku !== 'string' || orders.length > 300) return send(400, { ok: false, reason: 'sku' });
      const o = { order_no: next++, owner: who, sku: body.sku, qty: Number(body.qty) || 1 };
      orders.push(o);
      return send(201, { ok: true, order: o });
    }
    const m = /^\/v2\/orders\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && m) {
      if (!/^\d+$/.test(m[1])) {
        if (fixed) return send(400, { ok: false, reason: 'order_no must be a number' });
        res.writeHead(500, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' });
        return res.end(
          `error: invalid input syntax for type integer: "${decodeURIComponent(m[1])}"\n` +
            `    at Parser.parseErrorMessage (/srv/shop/node_modules/pg-protocol/dist/parser.js:287:98)\n` +
            `    at Pool.connect (postgres://shop:${dbPassword}@db.internal:5432/shop)\n`,
        );
      }
      const o = orders.find((x) => x.order_no === Number(m[1]) && x.owner === who);
      return o ? send(200, { ok: true, order: o }) : send(404, { ok: false, reason: 'none of yours' });
    }
    return send(404, { ok: false, reason: 'no such route' });
  }).then((api) => Object.assign(api, { orders }));
}

const lines = (r: ScanResult) => r.findings.map((f) => `${f.rule.id}: ${f.message}`);

describe('TRACE echoing the request, and secrets in the errors of malformed input', () => {
  let runs: TwinScans<TwinTarget & { orders: Order[] }>;
  before(async () => {
    const identity = (name: string) => ({
      name,
      login: { path: '/v2/login', body: { user: name, pass: USERS[name] }, header: 'X-Auth-Token' },
    });
    runs = await scanTwins(SPEC, startShop, {
      identities: [identity('alice'), identity('bob')],
      checks: ['API8'],
      ratePerSecond: 200,
    });
  });

  test("vulnerable: TRACE echoes the request, the caller's token included", () => {
    const found = lines(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.startsWith('scan/api8-trace-enabled') && /credentials included/.test(m)),
      JSON.stringify(found),
    );
  });

  test('vulnerable: the connection string and the API key in errors are reported', () => {
    const found = lines(runs.vulnerable.result).filter((m) => m.includes('secrets in its error'));
    assert.ok(
      found.some((m) => m.includes('/v2/orders/{order_no}') && m.includes('connection string')),
      JSON.stringify(found),
    );
    assert.ok(
      // The body is read before the route (a purchase is not sent as a given identity: the login and sign-up are).
      found.some((m) => m.includes('POST /v2/login') && m.includes('STRIPE_API_KEY')),
      JSON.stringify(found),
    );
  });

  test('fixed: no TRACE finding (the echo route echoes a GET too) and no secret in errors', () => {
    const found = lines(runs.fixed.result);
    assert.deepEqual(
      found.filter((m) => /trace-enabled|secrets in its error|configuration-exposure/.test(m)),
      [],
    );
  });

  test('fixed: no finding at all', () => {
    assert.deepEqual(lines(runs.fixed.result), []);
  });

  test("neither twin changed alice's or bob's orders", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const seeded = runs[kind].api.orders.filter((o) => o.order_no < 2000);
      assert.deepEqual(seeded, [
        { order_no: 1001, owner: 'alice', sku: 'mug-01', qty: 2 },
        { order_no: 1002, owner: 'bob', sku: 'cap-07', qty: 1 },
      ]);
    }
  });
});
