import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, test } from 'node:test';
import type { Principal } from '../../../src/core/exchange.ts';
import type { ResponseHead } from '../../../src/core/policy.ts';
import {
  compileSecurityHeaders,
  defaults,
  type SecurityHeadersConfig,
} from '../../../src/policies/security-headers/policy.ts';
import { apiDocument, createTestContext, exchangeOf } from '../../kit/policy.ts';
import { startServer } from '../../kit/server.ts';

const spec = apiDocument({
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  paths: { '/me': { get: { operationId: 'me', responses: { '200': { description: 'ok' } } } } },
});

const alice: Principal = {
  subject: 'alice',
  scopes: new Set(),
  roles: new Set(),
  claims: {},
  method: 'jwt',
  schemes: ['bearer'],
};

/** Serves one response through the handler's onResponseHead, as the gateway does for upstream answers. */
async function headersFor(
  config: Partial<SecurityHeadersConfig>,
  opts: { principal?: Principal; scheme?: 'http' | 'https' } = {},
): Promise<Headers> {
  const handler = compileSecurityHeaders({ ...defaults, mode: 'enforce', ...config });
  const ctx = createTestContext(spec).ctx('me');
  const server = await startServer((req, res) => {
    const ex = exchangeOf(ctx, { req, res, clientIp: '127.0.0.1', ...opts });
    const head: ResponseHead = {
      status: 200,
      headers: { 'cache-control': 'public, max-age=3600', 'content-type': 'application/json' },
    };
    handler?.onResponseHead?.(ex, head);
    res.writeHead(head.status, head.headers as http.OutgoingHttpHeaders).end('{}');
  });
  try {
    const res = await fetch(`${server.url}/me`);
    await res.arrayBuffer();
    return res.headers;
  } finally {
    await server.close();
  }
}

describe('securityHeaders', () => {
  test('sends nosniff, a CSP that loads nothing, no-referrer and DENY framing', async () => {
    const h = await headersFor({});
    assert.equal(h.get('x-content-type-options'), 'nosniff');
    assert.equal(h.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    assert.equal(h.get('referrer-policy'), 'no-referrer');
    assert.equal(h.get('x-frame-options'), 'DENY');
    assert.equal(h.get('cross-origin-resource-policy'), 'same-origin');
  });

  test('sends HSTS on TLS only', async () => {
    assert.equal((await headersFor({})).get('strict-transport-security'), null);
    assert.equal(
      (await headersFor({}, { scheme: 'https' })).get('strict-transport-security'),
      'max-age=63072000; includeSubDomains',
    );
  });

  test('forces no-store on responses to authenticated callers only', async () => {
    assert.equal((await headersFor({})).get('cache-control'), 'public, max-age=3600');
    assert.equal((await headersFor({}, { principal: alice })).get('cache-control'), 'no-store');
  });

  test('omits headers configured empty', async () => {
    const h = await headersFor({ contentSecurityPolicy: '', frameOptions: '' });
    assert.equal(h.get('content-security-policy'), null);
    assert.equal(h.get('x-frame-options'), null);
  });

  test('changes nothing in report mode', () => {
    assert.equal(compileSecurityHeaders({ ...defaults, mode: 'report' }), null);
  });
});
