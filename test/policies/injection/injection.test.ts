import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../../src/core/problems.ts';
import {
  buildConfig,
  echoHandler,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
  tempFiles,
} from '../../harness.ts';

const spec = {
  openapi: '3.1.0',
  security: [],
  info: { title: 'Notes', version: '1' },
  paths: {
    '/notes/{noteId}': {
      parameters: [{ name: 'noteId', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        operationId: 'getNote',
        parameters: [
          { name: 'q', in: 'query', schema: { type: 'string' } },
          { name: 'filter', in: 'query', schema: { type: 'object' }, style: 'deepObject' },
        ],
        responses: { '200': { description: 'ok' } },
      },
      post: {
        operationId: 'postNoteForm',
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', properties: { title: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
      put: {
        operationId: 'putNote',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  title: { type: 'string' },
                  comment: { type: 'string' },
                  tags: { type: 'array', items: { type: 'string' } },
                  owner: {},
                },
              },
            },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
  },
};

async function errorsOf(res: Response): Promise<unknown> {
  return ((await res.json()) as { errors?: unknown }).errors;
}

describe('injection policy (gateway with a real upstream)', () => {
  let up: TestServer;
  let gw: TestGateway;
  let report: TestGateway;
  before(async () => {
    up = await startServer(echoHandler);
    const config = (injection: Record<string, unknown>) => ({
      apis: [{ name: 'notes', spec: 'openapi.yaml', upstream: { url: up.url }, policies: { injection } }],
    });
    gw = await startGateway({
      specs: { 'openapi.yaml': spec },
      config: config({
        exclusions: [
          { operations: ['putNote'], location: 'body', pointer: '/comment', classes: ['xss'] },
          { location: 'query', name: 'sql' },
        ],
      }),
    });
    report = await startGateway({ specs: { 'openapi.yaml': spec }, config: config({ mode: 'report' }) });
  });
  after(async () => {
    await gw.close();
    await report.close();
    await up.close();
  });

  const put = (g: TestGateway, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${g.url}/notes/7`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  test('forwards a benign request whose text looks dangerous', async () => {
    const res = await put(gw, {
      title: "O'Brien: select the best option from the menu; drop me a line",
      tags: ['1 < 2', 'Tom & Jerry', 'Hello {{name}}'],
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  test('rejects SQL injection in a query parameter with 400 injection-detected and no payload echo', async () => {
    const payload = "1' or '1'='1' --";
    const res = await fetch(`${gw.url}/notes/7?q=${encodeURIComponent(payload)}`);
    assert.equal(res.status, problems.injectionDetected.status);
    const text = await res.text();
    const body = JSON.parse(text) as { type: string; errors: unknown };
    assert.equal(body.type, problems.injectionDetected.type);
    assert.deepEqual(body.errors, [{ pointer: '#/query/q', class: 'sqli' }]);
    assert.equal(text.includes("'1'='1'"), false);
  });

  test('rejects a Mongo operator in a bracketed query name as nosqli', async () => {
    const res = await fetch(`${gw.url}/notes/7?filter[owner][$ne]=x`);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/query/filter[owner][$ne]', class: 'nosqli' }]);
  });

  test('rejects path traversal in a path parameter', async () => {
    const res = await fetch(`${gw.url}/notes/..%c0%af..%c0%af..%c0%afetc%c0%afpasswd`);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/path/noteId', class: 'path-traversal' }]);
  });

  test('rejects an operator key deep in a JSON body with its pointer', async () => {
    const res = await put(gw, { title: 'x', owner: { id: { $ne: null } } });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/body/owner/id/$ne', class: 'nosqli' }]);
  });

  test('sees the operator an escaped key spells, even after a request set V8 up to misread it', async () => {
    const raw = (text: string) =>
      fetch(`${gw.url}/notes/7`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: text,
      });
    // This member name teaches Node 24's JSON.parse a shape under which `"\u0024ne"` reads as `\u0`.
    const primer = await raw(String.raw`{"owner":{"id":1,"\\u0":2}}`);
    await primer.arrayBuffer();
    const res = await raw(String.raw`{"owner":{"id":1,"\u0024ne":null}}`);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/body/owner/$ne', class: 'nosqli' }]);
  });

  test('rejects XSS in a JSON array leaf', async () => {
    const res = await put(gw, { tags: ['ok', '<img src=x onerror=alert(1)>'] });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/body/tags/1', class: 'xss' }]);
  });

  test('honours an exclusion for one class at one body pointer and still checks the others there', async () => {
    const ok = await put(gw, { comment: '<b onmouseover="tip()">hover</b>' });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const res = await put(gw, { comment: '; cat /etc/passwd' });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/body/comment', class: 'cmdi' }]);
  });

  test('inspects cookie values and configured headers but not Authorization', async () => {
    const res = await fetch(`${gw.url}/notes/7`, { headers: { cookie: 'theme=dark; pref={{7*7}}' } });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/cookie/pref', class: 'ssti' }]);
    const ua = await fetch(`${gw.url}/notes/7`, { headers: { 'user-agent': '() { :; }; /bin/bash -c id' } });
    assert.equal(ua.status, 400);
    assert.deepEqual(await errorsOf(ua), [{ pointer: '#/header/user-agent', class: 'cmdi' }]);
    const auth = await fetch(`${gw.url}/notes/7`, { headers: { authorization: "Bearer ' or 1=1--" } });
    assert.equal(auth.status, 200);
    await auth.arrayBuffer();
  });

  test('emits an alert event with class and location but without the payload', async () => {
    const payload = '<script>alert(document.cookie)</script>';
    const res = await fetch(`${gw.url}/notes/7?q=${encodeURIComponent(payload)}`);
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    const event = gw.events.findLast((e) => e['event.action'] === 'injection-detected');
    assert.ok(event);
    assert.equal(event['event.kind'], 'alert');
    assert.equal(event['event.reason'], 'xss');
    assert.deepEqual(event['portcullis.pointers'], ['#/query/q']);
    assert.equal(JSON.stringify(event).includes('document.cookie'), false);
    assert.equal(typeof event['portcullis.payload_hash'], 'string');
  });

  test('inspects form fields of a urlencoded body', async () => {
    const res = await fetch(`${gw.url}/notes/7`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'title=' + encodeURIComponent('{{config.items()}}'),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/body/title', class: 'ssti' }]);
  });

  test('inspects a body that claims JSON but does not parse as one text value', async () => {
    const res = await fetch(`${gw.url}/notes/7`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"title": "x", <script>alert(1)</script>',
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorsOf(res), [{ pointer: '#/body', class: 'xss' }]);
  });

  test('skips a query parameter excluded for every class', async () => {
    const res = await fetch(`${gw.url}/notes/7?sql=${encodeURIComponent("' or 1=1--")}`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  test('refuses a config with an unknown paranoia level or class at load', async () => {
    const dir = await tempFiles({ 'openapi.yaml': spec });
    const config = (injection: Record<string, unknown>) => ({
      apis: [{ name: 'notes', spec: 'openapi.yaml', upstream: { url: up.url }, policies: { injection } }],
    });
    assert.throws(() => buildConfig(config({ paranoia: 4 }), dir), { code: 'ERR_CONFIG' });
    assert.throws(() => buildConfig(config({ classes: ['csrf'] }), dir), { code: 'ERR_CONFIG' });
    assert.doesNotThrow(() => buildConfig(config({ paranoia: 2, classes: ['sqli'] }), dir));
  });

  test('lets the request through in report mode and records the decision', async () => {
    const res = await fetch(
      `${report.url}/notes/7?q=${encodeURIComponent("' union select password from users--")}`,
    );
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const event = report.events.findLast((e) => e['event.action'] === 'injection-detected');
    assert.equal(event?.['portcullis.mode'], 'report');
    assert.equal(event?.['event.type'], 'info');
  });
});
