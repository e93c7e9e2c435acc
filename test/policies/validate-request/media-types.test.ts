/**
 * Whole-system tests of issue 13 item 4: every body is validated and inspected under the media type it
 * is forwarded with. A real upstream records every request it receives; a real gateway stands in front
 * of it, once with validateRequest and injection, once with the injection guard alone. Each refused
 * request is checked to have never reached the upstream.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { problems } from '../../../src/core/problems.ts';
import {
  httpRequest,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';

const named = {
  type: 'object',
  additionalProperties: false,
  properties: { name: { type: 'string', maxLength: 20 } },
};

const spec = openapi({
  '/items': {
    post: op('createItem', {
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: named },
          'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
        },
      },
    }),
  },
  '/any': {
    post: op('anyBody', { requestBody: { content: { '*/*': { schema: named } } } }),
  },
  '/app': {
    post: op('appBody', { requestBody: { content: { 'application/*': {} } } }),
  },
  '/charset': {
    put: op('charsetKey', {
      requestBody: { content: { 'application/json; charset=utf-8': { schema: named } } },
    }),
  },
  '/merge': {
    patch: op('mergeItem', {
      requestBody: {
        content: {
          'application/merge-patch+json': { schema: named },
          'application/vnd.acme.item+json': { schema: named },
        },
      },
    }),
  },
  '/upload': {
    post: op('upload', {
      requestBody: {
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              properties: { comment: { type: 'string' }, file: { type: 'string', format: 'binary' } },
            },
          },
          'application/x-www-form-urlencoded': {
            schema: { type: 'object', properties: { comment: { type: 'string' } } },
          },
        },
      },
    }),
  },
  '/cookies': { get: op('readCookies') },
  '/ping': { post: op('ping') },
});

interface Received {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

const SQLI = "' OR 1=1--";
const XSS = '<script>alert(document.cookie)</script>';

describe('bodies are judged under the media type they are forwarded with', () => {
  let up: TestServer;
  let full: TestGateway;
  let guard: TestGateway;
  const received: Received[] = [];
  before(async () => {
    up = await startServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    const config = (policies: Record<string, unknown>) => ({
      apis: [{ name: 'items', spec: 'openapi.yaml', upstream: { url: up.url }, policies }],
    });
    full = await startGateway({
      specs: { 'openapi.yaml': spec },
      config: config({ validateRequest: {}, injection: {} }),
    });
    guard = await startGateway({ specs: { 'openapi.yaml': spec }, config: config({ injection: {} }) });
  });
  after(async () => {
    await full.close();
    await guard.close();
    await up.close();
  });

  /** Sends one request and reports the answer and whether the upstream received anything for it. */
  async function send(
    gw: TestGateway,
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer | string,
  ) {
    const before = received.length;
    const res = await httpRequest(gw.url, { method, path, headers, body });
    const problem = res.headers['content-type']?.startsWith('application/problem+json')
      ? (JSON.parse(res.body) as { type: string; errors?: Array<{ pointer: string; class?: string }> })
      : undefined;
    return { status: res.status, problem, reached: received.slice(before), headers: res.headers };
  }

  const json = (v: unknown) => JSON.stringify(v);

  describe('a second declared media type (application/octet-stream)', () => {
    test('inspects JSON labelled application/octet-stream and never forwards its operator', async () => {
      for (const gw of [full, guard]) {
        const r = await send(
          gw,
          'POST',
          '/items',
          { 'content-type': 'application/octet-stream' },
          json({ name: { $ne: null } }),
        );
        assert.equal(r.status, 400);
        assert.equal(r.problem?.type, problems.injectionDetected.type);
        // The whole text is read first (as the upstream might, as bytes); its JSON reading comes next.
        assert.deepEqual(r.problem?.errors, [{ pointer: '#/body', class: 'nosqli' }]);
        assert.equal(r.reached.length, 0);
      }
    });

    test('inspects text labelled application/octet-stream as one value', async () => {
      const r = await send(full, 'POST', '/items', { 'content-type': 'application/octet-stream' }, SQLI);
      assert.equal(r.status, 400);
      assert.deepEqual(r.problem?.errors, [{ pointer: '#/body', class: 'sqli' }]);
      assert.equal(r.reached.length, 0);
    });

    test('forwards any bytes under a type string, format binary schema, byte for byte', async () => {
      const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3, 0xff, 0xfe]);
      const r = await send(full, 'POST', '/items', { 'content-type': 'application/octet-stream' }, bytes);
      assert.equal(r.status, 200);
      assert.deepEqual(r.reached[0]?.body, bytes);
    });
  });

  describe('bodies that are not UTF-8 text', () => {
    const octet = { 'content-type': 'application/octet-stream' };

    test('forwards compressed bytes that carry no text attack', async () => {
      const text = Array.from({ length: 40_000 }, (_, i) => `${(i * 7919) % 104729}:${i.toString(36)}`).join(
        ',',
      );
      const bytes = deflateSync(Buffer.from(text), { level: 9 });
      assert.ok(bytes.length > 100_000);
      const r = await send(full, 'POST', '/items', octet, bytes);
      assert.equal(r.status, 200);
      assert.deepEqual(r.reached[0]?.body, bytes);
    });

    test('inspects a run of text inside binary bytes', async () => {
      const body = Buffer.concat([
        Buffer.from([0xff, 0xfe, 0x00, 0x81]),
        Buffer.from("x'; DROP TABLE users; --"),
        Buffer.from([0xc3, 0x28, 0x90]),
      ]);
      const r = await send(guard, 'POST', '/items', octet, body);
      assert.equal(r.status, 400);
      assert.deepEqual(r.problem?.errors, [{ pointer: '#/body', class: 'sqli' }]);
      assert.equal(r.reached.length, 0);
    });

    test('reads JSON holding a byte that is not UTF-8 as a lenient decoder would', async () => {
      const body = Buffer.concat([
        Buffer.from('{"a":"'),
        Buffer.from([0xff]),
        Buffer.from('","b":{"$ne":1}}'),
      ]);
      const r = await send(guard, 'POST', '/items', octet, body);
      assert.equal(r.status, 400);
      assert.deepEqual(r.problem?.errors, [{ pointer: '#/body/b/$ne', class: 'nosqli' }]);
      assert.equal(r.reached.length, 0);
    });
  });

  describe('*/* and application/* keys', () => {
    test('validates a JSON body under a */* key against that key’s schema', async () => {
      const r = await send(
        full,
        'POST',
        '/any',
        { 'content-type': 'application/json' },
        json({ name: 'ok', isAdmin: true }),
      );
      assert.equal(r.status, 400);
      assert.equal(r.problem?.type, problems.invalidRequest.type);
      assert.equal(r.reached.length, 0);
      const ok = await send(
        full,
        'POST',
        '/any',
        { 'content-type': 'application/json' },
        json({ name: 'ok' }),
      );
      assert.equal(ok.status, 200);
      assert.equal(ok.reached.length, 1);
    });

    test('inspects a JSON body under a */* key', async () => {
      const r = await send(
        guard,
        'POST',
        '/any',
        { 'content-type': 'application/json' },
        json({ name: XSS }),
      );
      assert.equal(r.status, 400);
      assert.deepEqual(r.problem?.errors, [{ pointer: '#/body/name', class: 'xss' }]);
      assert.equal(r.reached.length, 0);
    });

    test('refuses with 415 a non-JSON body under a */* key whose schema describes an object', async () => {
      const r = await send(full, 'POST', '/any', { 'content-type': 'text/csv' }, 'name\nok\n');
      assert.equal(r.status, 415);
      assert.equal(r.problem?.type, problems.unsupportedMediaType.type);
      assert.equal(r.reached.length, 0);
    });

    test('inspects an XML body under an application/* key as text', async () => {
      for (const gw of [full, guard]) {
        const r = await send(
          gw,
          'POST',
          '/app',
          { 'content-type': 'application/xml' },
          `<note>${XSS}</note>`,
        );
        assert.equal(r.status, 400);
        assert.deepEqual(r.problem?.errors, [{ pointer: '#/body', class: 'xss' }]);
        assert.equal(r.reached.length, 0);
      }
      const ok = await send(full, 'POST', '/app', { 'content-type': 'application/xml' }, '<note>hi</note>');
      assert.equal(ok.status, 200);
      assert.equal(ok.reached[0]?.body.toString(), '<note>hi</note>');
    });

    test('inspects a body sent without Content-Type', async () => {
      const r = await send(guard, 'POST', '/app', {}, json({ q: SQLI }));
      assert.equal(r.status, 400);
      assert.equal(r.problem?.type, problems.injectionDetected.type);
      assert.equal(r.reached.length, 0);
    });
  });

  describe('media type keys with parameters', () => {
    test('matches a request application/json to the key application/json; charset=utf-8 and validates it', async () => {
      const ok = await send(
        full,
        'PUT',
        '/charset',
        { 'content-type': 'application/json' },
        json({ name: 'a' }),
      );
      assert.equal(ok.status, 200);
      const quoted = await send(
        full,
        'PUT',
        '/charset',
        { 'content-type': 'Application/JSON; Charset="UTF-8"' },
        json({ name: 'a' }),
      );
      assert.equal(quoted.status, 200);
      const bad = await send(
        full,
        'PUT',
        '/charset',
        { 'content-type': 'application/json' },
        json({ role: 'x' }),
      );
      assert.equal(bad.status, 400);
      assert.equal(bad.reached.length, 0);
    });

    test('refuses a malformed Content-Type with 415', async () => {
      const r = await send(
        full,
        'POST',
        '/items',
        { 'content-type': 'application/json; charset=utf-8; charset=utf-16' },
        json({ name: 'a' }),
      );
      assert.equal(r.status, 415);
      assert.equal(r.reached.length, 0);
    });
  });

  describe('charsets', () => {
    test('refuses JSON in UTF-16 with a 415 problem', async () => {
      const body = Buffer.from(json({ name: { $ne: null } }), 'utf16le');
      for (const gw of [full, guard]) {
        const r = await send(
          gw,
          'POST',
          '/items',
          { 'content-type': 'application/json; charset=utf-16le' },
          body,
        );
        assert.equal(r.status, 415);
        assert.equal(r.problem?.type, problems.unsupportedMediaType.type);
        assert.equal(r.reached.length, 0);
      }
    });

    test('refuses JSON declared as latin1 with a 415 problem', async () => {
      const r = await send(
        full,
        'POST',
        '/items',
        { 'content-type': 'application/json; charset=iso-8859-1' },
        Buffer.from('{"name":"caf\xe9"}', 'latin1'),
      );
      assert.equal(r.status, 415);
      assert.equal(r.reached.length, 0);
    });
  });

  describe('content codings', () => {
    test('refuses a gzip-encoded body with 415 and Accept-Encoding: identity', async () => {
      const body = gzipSync(json({ name: { $ne: null } }));
      for (const gw of [full, guard]) {
        const r = await send(
          gw,
          'POST',
          '/items',
          { 'content-type': 'application/json', 'content-encoding': 'gzip' },
          body,
        );
        assert.equal(r.status, 415);
        assert.equal(r.headers['accept-encoding'], 'identity');
        assert.equal(r.reached.length, 0);
      }
    });
  });

  describe('+json suffixes', () => {
    test('parses application/merge-patch+json and vendor +json bodies as JSON for both policies', async () => {
      for (const ct of ['application/merge-patch+json', 'application/vnd.acme.item+json; version=2']) {
        const attack = await send(
          guard,
          'PATCH',
          '/merge',
          { 'content-type': ct },
          json({ name: { $gt: '' } }),
        );
        assert.equal(attack.status, 400);
        assert.deepEqual(attack.problem?.errors?.[0], { pointer: '#/body/name/$gt', class: 'nosqli' });
        const extra = await send(full, 'PATCH', '/merge', { 'content-type': ct }, json({ owner: 'x' }));
        assert.equal(extra.status, 400);
        assert.equal(extra.problem?.type, problems.invalidRequest.type);
        const ok = await send(full, 'PATCH', '/merge', { 'content-type': ct }, json({ name: 'a' }));
        assert.equal(ok.status, 200);
        assert.equal(attack.reached.length + extra.reached.length, 0);
      }
    });
  });

  describe('form and multipart bodies', () => {
    const boundary = 'XyZ123';
    const multipart = (parts: Array<{ headers: string[]; data: string }>) =>
      Buffer.from(
        parts.map((p) => `--${boundary}\r\n${p.headers.join('\r\n')}\r\n\r\n${p.data}\r\n`).join('') +
          `--${boundary}--\r\n`,
      );
    const mpHeaders = { 'content-type': `multipart/form-data; boundary=${boundary}` };

    test('inspects each multipart field value', async () => {
      for (const gw of [full, guard]) {
        const body = multipart([{ headers: ['Content-Disposition: form-data; name="comment"'], data: XSS }]);
        const r = await send(gw, 'POST', '/upload', mpHeaders, body);
        assert.equal(r.status, 400);
        assert.deepEqual(r.problem?.errors, [{ pointer: '#/body/comment', class: 'xss' }]);
        assert.equal(r.reached.length, 0);
      }
    });

    test('inspects the file name and the content of a multipart file part', async () => {
      const byName = multipart([
        {
          headers: [
            'Content-Disposition: form-data; name="file"; filename="../../../etc/passwd"',
            'Content-Type: text/plain',
          ],
          data: 'hello',
        },
      ]);
      const r1 = await send(guard, 'POST', '/upload', mpHeaders, byName);
      assert.equal(r1.status, 400);
      assert.deepEqual(r1.problem?.errors, [{ pointer: '#/body/file', class: 'path-traversal' }]);
      const byContent = multipart([
        {
          headers: [
            'Content-Disposition: form-data; name="file"; filename="a.json"',
            'Content-Type: application/json',
          ],
          data: json({ user: { $where: 'sleep(5000)' } }),
        },
      ]);
      const r2 = await send(guard, 'POST', '/upload', mpHeaders, byContent);
      assert.equal(r2.status, 400);
      assert.deepEqual(r2.problem?.errors, [{ pointer: '#/body/file/user/$where', class: 'nosqli' }]);
      assert.equal(r1.reached.length + r2.reached.length, 0);
    });

    test('refuses a multipart part in base64, which the guard would judge encoded', async () => {
      const body = multipart([
        {
          headers: ['Content-Disposition: form-data; name="comment"', 'Content-Transfer-Encoding: base64'],
          data: Buffer.from(XSS).toString('base64'),
        },
      ]);
      for (const gw of [full, guard]) {
        const r = await send(gw, 'POST', '/upload', mpHeaders, body);
        assert.equal(r.status, 400);
        assert.equal(r.reached.length, 0);
      }
    });

    test('forwards a benign multipart upload unchanged', async () => {
      const body = multipart([
        { headers: ['Content-Disposition: form-data; name="comment"'], data: 'Tom & Jerry; 1 < 2' },
        {
          headers: [
            'Content-Disposition: form-data; name="file"; filename="notes.txt"',
            'Content-Type: text/plain',
          ],
          data: 'plain notes',
        },
      ]);
      const r = await send(full, 'POST', '/upload', mpHeaders, body);
      assert.equal(r.status, 200);
      assert.deepEqual(r.reached[0]?.body, body);
    });

    test('inspects each form field value', async () => {
      const r = await send(
        full,
        'POST',
        '/upload',
        { 'content-type': 'application/x-www-form-urlencoded' },
        `comment=${encodeURIComponent(SQLI)}`,
      );
      assert.equal(r.status, 400);
      assert.deepEqual(r.problem?.errors, [{ pointer: '#/body/comment', class: 'sqli' }]);
      assert.equal(r.reached.length, 0);
    });
  });

  describe('bodies the operation does not declare', () => {
    test('buffers and inspects a large body on an operation without requestBody instead of streaming it', async () => {
      // Above server.bufferBodyBelowBytes (64 KiB): before, only a policy asking for the body buffered it.
      const body = `${'a'.repeat(70_000)} ${XSS}`;
      const r = await send(guard, 'POST', '/ping', { 'content-type': 'text/plain' }, body);
      assert.equal(r.status, 400);
      assert.equal(r.problem?.type, problems.injectionDetected.type);
      assert.equal(r.reached.length, 0);
    });
  });

  describe('cookies', () => {
    test('inspects a cookie after the 512th', async () => {
      const cookies = Array.from({ length: 600 }, (_, i) => `c${i}=v${i}`);
      cookies.push(`late=${encodeURIComponent(SQLI)}`);
      const r = await send(guard, 'GET', '/cookies', { cookie: cookies.join('; ') });
      assert.equal(r.status, 400);
      assert.deepEqual(r.problem?.errors, [{ pointer: '#/cookie/late', class: 'sqli' }]);
      assert.equal(r.reached.length, 0);
    });

    test('inspects a cookie given without a name', async () => {
      const r = await send(guard, 'GET', '/cookies', { cookie: `a=1; ${XSS}` });
      assert.equal(r.status, 400);
      assert.deepEqual(r.problem?.errors, [{ pointer: '#/cookie/', class: 'xss' }]);
      assert.equal(r.reached.length, 0);
    });

    test('forwards many benign cookies', async () => {
      const cookies = Array.from({ length: 600 }, (_, i) => `c${i}=v${i}`).join('; ');
      const r = await send(guard, 'GET', '/cookies', { cookie: cookies });
      assert.equal(r.status, 200);
      assert.equal(r.reached[0]?.headers.cookie, cookies);
    });
  });
});
