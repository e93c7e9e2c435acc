import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { ResponseHead } from '../../../src/core/policy.ts';
import { problems } from '../../../src/core/problems.ts';
import {
  type CorsConfig,
  compileCors,
  defaults,
  isCorsHandler,
  isCorsPreflight,
} from '../../../src/policies/cors/policy.ts';
import { apiDocument, createTestContext, exchangeOf } from '../../kit/policy.ts';
import { startServer } from '../../kit/server.ts';

const spec = apiDocument({
  openapi: '3.1.0',
  security: [],
  info: { title: 't', version: '1' },
  paths: {
    '/orders': {
      post: {
        operationId: 'createOrder',
        parameters: [{ name: 'X-Idempotency-Key', in: 'header', schema: { type: 'string' } }],
        responses: { '201': { description: 'ok' } },
      },
    },
  },
});

/**
 * A real server standing in for the gateway around one CORS handler: preflights go to `preflight`,
 * other requests through `onRequest` and, for an upstream answer that sends its own CORS headers,
 * `onResponseHead`.
 */
async function serve(config: Partial<CorsConfig>) {
  const t = createTestContext(spec);
  const ctx = t.ctx('createOrder');
  const handler = compileCors({ ...defaults, mode: 'enforce', ...config }, ctx);
  const server = await startServer((req, res) => {
    if (isCorsPreflight(req) && isCorsHandler(handler)) {
      const r = handler.preflight(req);
      if ('problem' in r) res.writeHead(r.problem.status).end();
      else res.writeHead(r.status, r.headers).end();
      return;
    }
    const ex = exchangeOf(ctx, { req, res, clientIp: '127.0.0.1' });
    const p = handler.onRequest!(ex);
    if (p !== undefined && !(p instanceof Promise)) {
      res.writeHead(p.problem.status, ex.responseHeaders).end();
      return;
    }
    const head: ResponseHead = {
      status: 201,
      headers: {
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
        vary: 'Accept-Encoding',
      },
    };
    handler.onResponseHead!(ex, head);
    Object.assign(head.headers, ex.responseHeaders);
    res.writeHead(head.status, head.headers as http.OutgoingHttpHeaders).end();
  });
  return { url: server.url, events: t.events, close: server.close };
}

/** Raw request (fetch would refuse to set Origin). */
function request(url: string, method: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request(`${url}/orders`, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cors', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve({
      allowOrigins: ['https://app.example.com'],
      allowCredentials: true,
      exposeHeaders: ['x-request-id'],
    });
  });
  after(() => s.close());

  test('allows a listed origin with credentials and replaces the upstream wildcard', async () => {
    const r = await request(s.url, 'POST', { origin: 'https://app.example.com' });
    assert.equal(r.status, 201);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-expose-headers'], 'x-request-id');
    assert.equal(r.headers.vary, 'Accept-Encoding, Origin');
  });

  test('refuses an unlisted origin with 403 and never reflects it', async () => {
    s.events.length = 0;
    const r = await request(s.url, 'POST', { origin: 'https://evil.example.net' });
    assert.equal(r.status, problems.forbidden.status);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
    assert.equal(s.events[0]['event.reason'], 'origin_not_allowed');
  });

  test('does not treat a look-alike or null origin as listed', async () => {
    for (const origin of ['https://app.example.com.evil.net', 'http://app.example.com', 'null']) {
      const r = await request(s.url, 'POST', { origin });
      assert.equal(r.status, 403, origin);
    }
  });

  test('strips upstream CORS headers when the request has no Origin', async () => {
    const r = await request(s.url, 'POST', {});
    assert.equal(r.status, 201);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  test('answers a preflight for a listed origin, method and declared header', async () => {
    const r = await request(s.url, 'OPTIONS', {
      origin: 'https://app.example.com',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'Content-Type, X-Idempotency-Key, Authorization',
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(r.headers['access-control-allow-methods'], 'POST');
    assert.equal(r.headers['access-control-allow-headers'], 'content-type, x-idempotency-key, authorization');
    assert.equal(r.headers['access-control-max-age'], '600');
  });

  test('refuses a preflight for another method, an undeclared header or an unlisted origin', async () => {
    const base = { origin: 'https://app.example.com', 'access-control-request-method': 'POST' };
    assert.equal(
      (await request(s.url, 'OPTIONS', { ...base, 'access-control-request-method': 'DELETE' })).status,
      403,
    );
    assert.equal(
      (await request(s.url, 'OPTIONS', { ...base, 'access-control-request-headers': 'x-admin' })).status,
      403,
    );
    assert.equal(
      (await request(s.url, 'OPTIONS', { ...base, origin: 'https://evil.example.net' })).status,
      403,
    );
  });
});

describe('cors without rejection', () => {
  test('lets an unlisted origin through without CORS headers when rejection is off', async () => {
    const s = await serve({ allowOrigins: ['https://app.example.com'], rejectUnlistedOrigins: false });
    try {
      const r = await request(s.url, 'POST', { origin: 'https://evil.example.net' });
      assert.equal(r.status, 201);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      assert.equal(r.headers['access-control-allow-credentials'], undefined);
    } finally {
      await s.close();
    }
  });
});
