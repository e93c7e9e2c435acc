/**
 * Whole-system tests of response protection: a real upstream, the real gateway in front of it.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { problems } from '../../../src/core/problems.ts';
import { startGateway, startServer, type TestGateway, type TestServer } from '../../harness.ts';

const user = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    email: { type: 'string', format: 'email' },
    password: { type: 'string', writeOnly: true },
    bio: { type: 'string' },
    extra: { type: 'object', additionalProperties: true },
  },
};

const spec = {
  openapi: '3.1.0',
  security: [],
  info: { title: 'Users', version: '1' },
  components: { schemas: { User: user } },
  paths: {
    '/users/{id}': {
      get: {
        operationId: 'getUser',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/User' } } },
          },
          '404': {
            description: 'missing',
            content: { 'application/problem+json': { schema: { type: 'object' } } },
          },
          '5XX': { description: 'error', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
    '/files/{id}': {
      get: {
        operationId: 'getFile',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'ok', content: { 'text/plain': {} } } },
      },
    },
  },
};

/** The upstream answers what the test put in `responses` for the path. */
const responses = new Map<
  string,
  { status: number; headers: Record<string, string>; body: string | Buffer }
>();
function upstream(req: IncomingMessage, res: ServerResponse) {
  const r = responses.get(req.url ?? '') ?? { status: 404, headers: {}, body: '' };
  res.writeHead(r.status, { 'content-length': String(Buffer.byteLength(r.body)), ...r.headers });
  res.end(r.body);
}
function answer(path: string, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  responses.set(path, { status, headers: { 'content-type': 'application/json', ...headers }, body: text });
}

describe('protectResponse through the gateway', () => {
  let up: TestServer;
  let gw: TestGateway;
  let report: TestGateway;
  before(async () => {
    up = await startServer(upstream);
    const api = (mode: string) => ({
      apis: [
        {
          name: 'users',
          spec: 'openapi.yaml',
          upstream: { url: up.url },
          policies: { protectResponse: { mode } },
        },
      ],
    });
    gw = await startGateway({ specs: { 'openapi.yaml': spec }, config: api('enforce') });
    report = await startGateway({ specs: { 'openapi.yaml': spec }, config: api('report') });
  });
  after(async () => {
    await gw.close();
    await report.close();
    await up.close();
  });

  test('strips undeclared and writeOnly members from a JSON response', async () => {
    answer('/users/1', 200, { id: 1, name: 'Ann', password: 'hunter2', isAdmin: true, extra: { any: 1 } });
    const res = await fetch(`${gw.url}/users/1`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: 1, name: 'Ann', extra: { any: 1 } });
  });

  test('keeps a declared email but masks undeclared secrets and personal data', async () => {
    const jwt =
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    answer('/users/2', 200, {
      id: 2,
      email: 'ann@example.com',
      bio: `card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE, token ${jwt}, mail bob@example.org, order 1234 5678 9012 3456`,
      extra: { note: '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----' },
    });
    const body = (await (await fetch(`${gw.url}/users/2`)).json()) as Record<string, unknown>;
    assert.equal(body.email, 'ann@example.com');
    assert.equal(
      body.bio,
      'card [REDACTED], key [REDACTED], token [REDACTED], mail [REDACTED], order 1234 5678 9012 3456',
    );
    assert.deepEqual(body.extra, { note: '[REDACTED]' });
  });

  test('emits a data-leak alert without the leaked value', async () => {
    gw.events.length = 0;
    answer('/users/3', 200, { id: 3, bio: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc' });
    await (await fetch(`${gw.url}/users/3`)).arrayBuffer();
    const e = gw.events.find((x) => x['event.action'] === 'response-protection');
    assert.ok(e);
    assert.equal(e['event.kind'], 'alert');
    assert.equal(e['event.reason'], 'data_leak_apiKey');
    assert.equal(JSON.stringify(gw.events).includes('sk_live_'), false);
  });

  test('replaces a 5xx body with a generic problem', async () => {
    answer('/users/4', 500, { error: 'SQLSTATE[42S02] at /srv/app/db.php:12' });
    const res = await fetch(`${gw.url}/users/4`);
    const text = await res.text();
    assert.equal(res.status, problems.upstreamError.status);
    assert.equal(JSON.parse(text).type, problems.upstreamError.type);
    assert.equal(text.includes('SQLSTATE'), false);
  });

  test('withholds a status the operation does not declare', async () => {
    answer('/users/5', 418, { teapot: true });
    const res = await fetch(`${gw.url}/users/5`);
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { type: string }).type, problems.upstreamResponseRejected.type);
  });

  test('passes 304 Not Modified although the operation does not declare it', async () => {
    responses.set('/users/11', { status: 304, headers: { etag: '"v1"' }, body: '' });
    const res = await fetch(`${gw.url}/users/11`, { headers: { 'if-none-match': '"v1"' } });
    assert.equal(res.status, 304);
  });

  test('withholds a media type the status does not declare', async () => {
    answer('/users/6', 200, '<user/>', { 'content-type': 'text/html' });
    const res = await fetch(`${gw.url}/users/6`);
    assert.equal(res.status, 502);
    await res.arrayBuffer();
  });

  test('withholds a JSON body that contradicts its schema', async () => {
    answer('/users/7', 200, { id: 'seven' });
    const res = await fetch(`${gw.url}/users/7`);
    assert.equal(res.status, 502);
    await res.arrayBuffer();
  });

  test('removes Server and X-Powered-By', async () => {
    answer('/users/8', 200, { id: 8 }, { server: 'Apache/2.4.1', 'x-powered-by': 'PHP/5.6' });
    const res = await fetch(`${gw.url}/users/8`);
    await res.arrayBuffer();
    assert.equal(res.headers.get('server'), null);
    assert.equal(res.headers.get('x-powered-by'), null);
  });

  test('inspects a gzip-compressed upstream body and answers it uncompressed', async () => {
    const zipped = gzipSync(JSON.stringify({ id: 9, name: 'Zed', secretField: 1 }));
    responses.set('/users/9', {
      status: 200,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: zipped,
    });
    const res = await fetch(`${gw.url}/users/9`);
    assert.deepEqual(await res.json(), { id: 9, name: 'Zed' });
  });

  test('streams a declared non-JSON body unchanged', async () => {
    responses.set('/files/1', {
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'AKIAIOSFODNN7EXAMPLE',
    });
    const res = await fetch(`${gw.url}/files/1`);
    assert.equal(await res.text(), 'AKIAIOSFODNN7EXAMPLE');
  });

  test('changes nothing in report mode but reports what it would have done', async () => {
    report.events.length = 0;
    answer('/users/10', 200, { id: 10, isAdmin: true, bio: 'AKIAIOSFODNN7EXAMPLE' }, { server: 'nginx' });
    const res = await fetch(`${report.url}/users/10`);
    assert.deepEqual(await res.json(), { id: 10, isAdmin: true, bio: 'AKIAIOSFODNN7EXAMPLE' });
    assert.equal(res.headers.get('server'), 'nginx');
    const e = report.events.find((x) => x['event.action'] === 'response-protection');
    assert.equal(e?.['event.reason'], 'undeclared_properties,data_leak_apiKey');
    assert.equal(e?.['event.type'], 'info');
  });
});
