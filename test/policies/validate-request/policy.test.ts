import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JsonObject } from '../../../src/core/api-document.ts';
import { problems } from '../../../src/core/problems.ts';
import { compileValidateRequest } from '../../../src/policies/validate-request/policy.ts';
import { defaults, type ValidateRequestConfig } from '../../../src/policies/validate-request/schema.ts';
import { apiDocument, createTestContext } from '../../kit/policy.ts';
import { type HandlerServer, serveHandler } from '../../kit/policy-server.ts';

const user = {
  type: 'object',
  required: ['name'],
  properties: {
    id: { type: 'string', readOnly: true },
    name: { type: 'string', maxLength: 20 },
    age: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { type: 'string' } },
    address: { type: 'object', properties: { city: { type: 'string' } } },
  },
};

const spec = apiDocument(
  {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    components: { schemas: { User: user } },
    paths: {
      '/users/{userId}': {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
        put: {
          operationId: 'putUser',
          parameters: [
            { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
            {
              name: 'fields',
              in: 'query',
              explode: false,
              schema: { type: 'array', items: { type: 'string' } },
            },
            {
              name: 'X-Trace',
              in: 'header',
              required: true,
              schema: { type: 'string', pattern: '^[a-f0-9]{8}$' },
            },
            { name: 'session', in: 'cookie', schema: { type: 'string', minLength: 4 } },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/User' } },
              'application/x-www-form-urlencoded': { schema: { $ref: '#/components/schemas/User' } },
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    avatar: { type: 'string', format: 'binary', maxLength: 8 },
                  },
                },
                encoding: { avatar: { contentType: 'image/png' } },
              },
            },
          },
          responses: { '200': { description: 'ok' } },
        },
        post: {
          operationId: 'postNote',
          requestBody: { content: { 'text/plain': { schema: { type: 'string', maxLength: 5 } } } },
          responses: { '200': { description: 'ok' } },
        },
        get: {
          operationId: 'getUser',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 50 } },
            {
              name: 'filter',
              in: 'query',
              style: 'deepObject',
              explode: true,
              schema: { type: 'object', properties: { role: { type: 'string', enum: ['admin', 'user'] } } },
            },
          ],
          responses: { '200': { description: 'ok' } },
        },
      },
    },
  },
  '3.0',
);

const HEADERS = { 'x-trace': 'deadbeef', 'content-type': 'application/json' };

async function serve(operationId: string, config: Partial<ValidateRequestConfig> = {}) {
  const t = createTestContext(spec);
  const handler = compileValidateRequest({ ...defaults, mode: 'enforce', ...config }, t.ctx(operationId));
  assert.ok(handler);
  return { server: await serveHandler(handler, t.ctx(operationId)), events: t.events };
}

function errorsOf(d: { problem?: { extensions?: Record<string, unknown> } }) {
  return d.problem?.extensions?.errors as Array<{ pointer: string; detail: string }>;
}

describe('validateRequest on a JSON body', () => {
  let s: HandlerServer;
  let events: JsonObject[];
  before(async () => {
    const r = await serve('putUser');
    s = r.server;
    events = r.events;
  });
  after(() => s.close());

  const put = (path: string, body: unknown, headers: Record<string, string> = HEADERS) =>
    s.send(path, { method: 'PUT', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  test('passes a request that matches the operation and caches the parsed body', async () => {
    const d = await put('/users/7?dryRun=true&fields=a,b', { name: 'Ann', age: 3, address: { city: 'X' } });
    assert.equal(d.problem, undefined);
    assert.deepEqual(d.json, { name: 'Ann', age: 3, address: { city: 'X' } });
  });

  test('rejects a wrong type with a pointer to the body member and without echoing the value', async () => {
    const d = await put('/users/7', { name: 'Ann', age: 'forty-two-years' });
    assert.equal(d.problem?.type, problems.invalidRequest.type);
    assert.deepEqual(errorsOf(d), [{ pointer: '#/body/age', detail: 'must be integer' }]);
    assert.equal(JSON.stringify(d.problem).includes('forty-two-years'), false);
  });

  test('rejects an undeclared property where the spec omits additionalProperties (mass assignment)', async () => {
    const d = await put('/users/7', { name: 'Ann', isAdmin: true, address: { city: 'X', zip: 1 } });
    assert.deepEqual(errorsOf(d), [
      { pointer: '#/body/address/zip', detail: 'is not a declared property' },
      { pointer: '#/body/isAdmin', detail: 'is not a declared property' },
    ]);
  });

  test('rejects a readOnly property in the request', async () => {
    const d = await put('/users/7', { name: 'Ann', id: 'u1' });
    assert.deepEqual(errorsOf(d), [{ pointer: '#/body/id', detail: 'is read-only or not allowed' }]);
  });

  test('validates path, query, header and cookie parameters with typed pointers', async () => {
    const d = await put(
      '/users/0?dryRun=maybe&limit=3',
      { name: 'Ann' },
      {
        'content-type': 'application/json',
        'x-trace': 'nothex!!',
        cookie: 'session=ab',
      },
    );
    const pointers = errorsOf(d).map((e) => e.pointer);
    assert.deepEqual(pointers, [
      '#/path/userId',
      '#/query/dryRun',
      '#/header/X-Trace',
      '#/cookie/session',
      '#/query/limit',
    ]);
    assert.equal(errorsOf(d)[4].detail, 'is not a declared parameter');
  });

  test('rejects a missing required header parameter', async () => {
    const d = await put('/users/7', { name: 'Ann' }, { 'content-type': 'application/json' });
    assert.deepEqual(errorsOf(d), [{ pointer: '#/header/X-Trace', detail: 'is required' }]);
  });

  test('rejects a member given twice, which parsers resolve differently', async () => {
    const d = await put('/users/7', '{"name":"Ann","age":1,"age":2}');
    assert.deepEqual(errorsOf(d), [{ pointer: '#/body/age', detail: 'is given more than once' }]);
  });

  test('rejects malformed JSON without a parser message', async () => {
    const d = await put('/users/7', '{"name": "Ann",');
    assert.deepEqual(errorsOf(d), [{ pointer: '#/body', detail: 'is not valid JSON' }]);
  });

  test('answers 415 for an undeclared content type', async () => {
    const d = await put('/users/7', '<user/>', { ...HEADERS, 'content-type': 'application/xml' });
    assert.equal(d.problem?.type, problems.unsupportedMediaType.type);
    assert.equal(d.problem?.status, 415);
  });

  test('answers 400 when the required body is missing', async () => {
    const d = await s.send('/users/7', { method: 'PUT', headers: HEADERS });
    assert.deepEqual(errorsOf(d), [{ pointer: '#/body', detail: 'is required' }]);
  });

  test('rejects JSON nested deeper than the configured bound before schema validation', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = [deep];
    const d = await put('/users/7', { name: 'Ann', tags: deep });
    assert.equal(errorsOf(d)[0].detail, 'nests deeper than 32 levels');
  });

  test('emits a security event with pointers and no values', async () => {
    events.length = 0;
    await put('/users/7', { name: 'Ann', role: 'admin-secret-value' });
    assert.equal(events.length, 1);
    assert.equal(events[0]['event.action'], 'request-validation');
    assert.equal(events[0]['event.type'], 'denied');
    assert.deepEqual(events[0]['portcullis.pointers'], ['#/body/role']);
    assert.equal(JSON.stringify(events[0]).includes('admin-secret-value'), false);
  });
});

describe('validateRequest on form and multipart bodies', () => {
  let s: HandlerServer;
  before(async () => {
    s = (await serve('putUser')).server;
  });
  after(() => s.close());

  test('coerces and validates a form-urlencoded body', async () => {
    const headers = { 'x-trace': 'deadbeef', 'content-type': 'application/x-www-form-urlencoded' };
    const ok = await s.send('/users/7', { method: 'PUT', headers, body: 'name=Ann&age=4&tags=a&tags=b' });
    assert.equal(ok.problem, undefined);
    const bad = await s.send('/users/7', { method: 'PUT', headers, body: 'name=Ann&age=x&admin=1' });
    assert.deepEqual(errorsOf(bad), [
      { pointer: '#/body/age', detail: 'must be integer' },
      { pointer: '#/body/admin', detail: 'is not a declared property' },
    ]);
  });

  test('checks multipart fields, their sizes and declared part content types', async () => {
    const form = new FormData();
    form.append('name', 'Ann');
    form.append('avatar', new Blob([Buffer.alloc(20)], { type: 'image/gif' }), 'a.gif');
    form.append('extra', 'x');
    const d = await s.send('/users/7', { method: 'PUT', headers: { 'x-trace': 'deadbeef' }, body: form });
    assert.deepEqual(errorsOf(d), [
      { pointer: '#/body/avatar', detail: 'has a content type the API does not accept' },
      { pointer: '#/body/avatar', detail: 'must NOT have more than 8 characters' },
      { pointer: '#/body/extra', detail: 'is not a declared property' },
    ]);
    const good = new FormData();
    good.append('name', 'Ann');
    good.append('avatar', new Blob([Buffer.alloc(4)], { type: 'image/png' }), 'a.png');
    const ok = await s.send('/users/7', { method: 'PUT', headers: { 'x-trace': 'deadbeef' }, body: good });
    assert.equal(ok.problem, undefined);
  });
});

describe('validateRequest configuration', () => {
  test('strips undeclared properties and forwards the rewritten body in strip mode', async () => {
    const { server } = await serve('putUser', { additionalProperties: 'strip' });
    try {
      const d = await server.send('/users/7', {
        method: 'PUT',
        headers: HEADERS,
        body: JSON.stringify({ name: 'Ann', isAdmin: true, address: { city: 'X', zip: 1 } }),
      });
      assert.equal(d.problem, undefined);
      assert.deepEqual(JSON.parse(d.body ?? ''), { name: 'Ann', address: { city: 'X' } });
    } finally {
      await server.close();
    }
  });

  test('still rejects readOnly properties in strip mode', async () => {
    const { server } = await serve('putUser', { additionalProperties: 'strip' });
    try {
      const d = await server.send('/users/7', {
        method: 'PUT',
        headers: HEADERS,
        body: JSON.stringify({ name: 'A', id: 'x' }),
      });
      assert.deepEqual(errorsOf(d), [{ pointer: '#/body/id', detail: 'is read-only or not allowed' }]);
    } finally {
      await server.close();
    }
  });

  test('allows undeclared query parameters when configured', async () => {
    const { server } = await serve('getUser', { unknownQueryParameters: 'allow' });
    try {
      assert.equal((await server.send('/users/7?utm=1&limit=5')).problem, undefined);
      assert.deepEqual(errorsOf(await server.send('/users/7?limit=51')), [
        { pointer: '#/query/limit', detail: 'must be <= 50' },
      ]);
    } finally {
      await server.close();
    }
  });

  test('accepts deepObject members of a declared parameter and still rejects undeclared names', async () => {
    const { server } = await serve('getUser');
    try {
      assert.equal((await server.send('/users/7?filter%5Brole%5D=admin&limit=5')).problem, undefined);
      assert.equal((await server.send('/users/7?filter[role]=user')).problem, undefined);
      assert.deepEqual(errorsOf(await server.send('/users/7?filter[role]=admin&utm=1')), [
        { pointer: '#/query/utm', detail: 'is not a declared parameter' },
      ]);
    } finally {
      await server.close();
    }
  });

  test('refuses more query parameters than the configured maximum', async () => {
    const { server } = await serve('getUser', { unknownQueryParameters: 'allow', maxParameters: 3 });
    try {
      const d = await server.send('/users/7?a=1&b=2&c=3&d=4');
      assert.deepEqual(errorsOf(d), [{ pointer: '#/query', detail: 'has more than 3 parameters' }]);
      assert.equal(d.problem?.reason, 'too_many_parameters');
    } finally {
      await server.close();
    }
  });

  test('refuses a body on an operation that declares none', async () => {
    const { server } = await serve('getUser');
    try {
      const d = await server.send('/users/7', { method: 'POST', body: 'x' });
      assert.deepEqual(errorsOf(d), [{ pointer: '#/body', detail: 'this operation takes no request body' }]);
    } finally {
      await server.close();
    }
  });

  test('does not ask for the body of an operation without one', () => {
    const t = createTestContext(spec);
    const h = compileValidateRequest({ ...defaults, mode: 'enforce' }, t.ctx('getUser'));
    assert.equal(h?.needsRequestBody, false);
  });

  test('does not rewrite the body in report mode', async () => {
    const { server, events } = await serve('putUser', { additionalProperties: 'strip', mode: 'report' });
    try {
      const body = JSON.stringify({ name: 'Ann', isAdmin: true });
      const d = await server.send('/users/7', { method: 'PUT', headers: HEADERS, body });
      assert.equal(d.body, body);
      assert.equal(d.problem?.type, problems.invalidRequest.type);
      assert.equal(events[0]['event.type'], 'info');
    } finally {
      await server.close();
    }
  });

  test('validates a text body as one string', async () => {
    const { server } = await serve('postNote');
    try {
      const headers = { 'content-type': 'text/plain; charset=utf-8' };
      assert.equal(
        (await server.send('/users/7', { method: 'POST', headers, body: 'short' })).problem,
        undefined,
      );
      assert.deepEqual(
        errorsOf(await server.send('/users/7', { method: 'POST', headers, body: 'too long' })),
        [{ pointer: '#/body', detail: 'must NOT have more than 5 characters' }],
      );
    } finally {
      await server.close();
    }
  });

  test('refuses a body larger than maxBodyBytes with 413', async () => {
    const { server } = await serve('putUser', { maxBodyBytes: 10 });
    try {
      const d = await server.send('/users/7', {
        method: 'PUT',
        headers: HEADERS,
        body: JSON.stringify({ name: 'Annabelle' }),
      });
      assert.equal(d.problem?.status, 413);
    } finally {
      await server.close();
    }
  });
});
