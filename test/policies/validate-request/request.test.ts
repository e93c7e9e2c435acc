/**
 * Whole-system tests of request validation: a real echo upstream, the real gateway in front of it with
 * validateRequest, ssrfGuard, cors and securityHeaders configured as a user would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../../src/core/problems.ts';
import { echoHandler, startGateway, startServer, type TestGateway, type TestServer } from '../../harness.ts';

const spec = {
  openapi: '3.0.3',
  security: [],
  info: { title: 'Accounts', version: '1' },
  components: {
    schemas: {
      Account: {
        type: 'object',
        required: ['name'],
        properties: {
          id: { type: 'integer', readOnly: true },
          name: { type: 'string', maxLength: 40 },
          nickname: { type: 'string', nullable: true },
          webhook: { type: 'string', format: 'uri' },
        },
      },
    },
  },
  paths: {
    '/accounts/{accountId}': {
      parameters: [
        { name: 'accountId', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
      ],
      put: {
        operationId: 'putAccount',
        parameters: [{ name: 'notify', in: 'query', schema: { type: 'boolean' } }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Account' } } },
        },
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
  },
};

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

describe('request validation through the gateway', () => {
  let up: TestServer;
  let gw: TestGateway;
  let strip: TestGateway;
  let report: TestGateway;
  before(async () => {
    up = await startServer(echoHandler);
    const config = (validateRequest: Record<string, unknown>) => ({
      apis: [
        {
          name: 'accounts',
          spec: 'openapi.yaml',
          upstream: { url: up.url },
          policies: {
            validateRequest,
            ssrfGuard: {},
            cors: { allowOrigins: ['https://app.example.com'] },
            securityHeaders: {},
          },
        },
      ],
    });
    gw = await startGateway({ specs: { 'openapi.yaml': spec }, config: config({}) });
    strip = await startGateway({
      specs: { 'openapi.yaml': spec },
      config: config({ additionalProperties: 'strip' }),
    });
    report = await startGateway({ specs: { 'openapi.yaml': spec }, config: config({ mode: 'report' }) });
  });
  after(async () => {
    await gw.close();
    await strip.close();
    await report.close();
    await up.close();
  });

  const put = (g: TestGateway, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${g.url}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  test('forwards a valid request with a nullable member unchanged', async () => {
    const res = await put(gw, '/accounts/3?notify=false', { name: 'Ann', nickname: null });
    assert.equal(res.status, 200);
    const echo = (await res.json()) as Echo;
    assert.equal(echo.url, '/accounts/3?notify=false');
    assert.deepEqual(JSON.parse(echo.body), { name: 'Ann', nickname: null });
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
  });

  test('answers 400 with pointers and never reaches the upstream for an invalid request', async () => {
    const res = await put(gw, '/accounts/0?notify=yes', { name: 'Ann', id: 9, role: 'admin' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const body = (await res.json()) as { type: string; errors: Array<{ pointer: string }> };
    assert.equal(body.type, problems.invalidRequest.type);
    assert.deepEqual(body.errors.map((e) => e.pointer).sort(), [
      '#/body/id',
      '#/body/role',
      '#/path/accountId',
      '#/query/notify',
    ]);
    const access = gw.access.at(-1);
    assert.equal(access?.['portcullis.denied_by'], 'validateRequest');
  });

  test('forwards the body without undeclared members in strip mode', async () => {
    const res = await put(strip, '/accounts/3', { name: 'Ann', isAdmin: true });
    assert.equal(res.status, 200);
    const echo = (await res.json()) as Echo;
    assert.deepEqual(JSON.parse(echo.body), { name: 'Ann' });
    assert.equal(echo.headers['content-length'], String(Buffer.byteLength('{"name":"Ann"}')));
  });

  test('lets an invalid request through in report mode and records a security event', async () => {
    report.events.length = 0;
    const res = await put(report, '/accounts/3', { name: 'Ann', role: 'admin' });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const e = report.events.find((x) => x['event.action'] === 'request-validation');
    assert.equal(e?.['event.type'], 'info');
    assert.deepEqual(e?.['portcullis.pointers'], ['#/body/role']);
  });

  test('refuses a webhook URL pointing at the metadata service', async () => {
    const res = await put(gw, '/accounts/3', {
      name: 'Ann',
      webhook: 'http://[::ffff:169.254.169.254]/latest',
    });
    assert.equal(res.status, problems.ssrfBlocked.status);
    assert.equal(((await res.json()) as { type: string }).type, problems.ssrfBlocked.type);
  });

  test('answers 415 for an undeclared media type', async () => {
    const res = await fetch(`${gw.url}/accounts/3`, {
      method: 'PUT',
      headers: { 'content-type': 'text/xml' },
      body: '<account/>',
    });
    assert.equal(res.status, 415);
    await res.arrayBuffer();
  });

  test('gives a listed origin CORS headers even on a rejected request', async () => {
    const res = await put(gw, '/accounts/0', { name: 'Ann' }, { origin: 'https://app.example.com' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
    await res.arrayBuffer();
  });

  test('refuses an unlisted origin before validation', async () => {
    const res = await put(gw, '/accounts/3', { name: 'Ann' }, { origin: 'https://evil.example.net' });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    await res.arrayBuffer();
  });
});
