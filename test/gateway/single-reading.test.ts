/**
 * The upstream receives exactly what the gateway judged, or the request is refused (issue 13: single
 * reading of headers, credentials and paths; Expect; HEAD of a filtered response). Every test runs a
 * real gateway in front of a real upstream that records what reaches it.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../src/core/problems.ts';
import { createApiKey } from '../../src/policies/authenticate/api-key.ts';
import {
  httpRequest,
  op,
  openapi,
  startGateway,
  startProxy,
  startServer,
  type TestProxy,
} from '../harness.ts';

/** What reached the upstream, newest last. */
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; raw: string[] }> = [];
function recorder(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw: req.rawHeaders });
    const body = JSON.stringify({
      id: 1,
      name: 'a',
      secret: 'not for clients',
      got: Buffer.concat(chunks).toString(),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const key = createApiKey();

const spec = openapi(
  {
    '/items/{id}': {
      get: op('getItem', {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      }),
      post: op('postItem', {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      }),
    },
    '/admin/{id}': {
      get: op('getAdmin', {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        security: [{ partnerKey: [] }],
      }),
    },
    '/partner': {
      get: op('getPartner', { security: [{ partnerKey: [] }, { queryKey: [] }, { cookieKey: [] }] }),
    },
    '/users/{id}': {
      get: op('getUser', {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'ok',
            content: {
              'application/json': {
                schema: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } } },
              },
            },
          },
        },
      }),
    },
  },
  {
    components: {
      securitySchemes: {
        partnerKey: { type: 'apiKey', in: 'header', name: 'X-Partner-Key' },
        queryKey: { type: 'apiKey', in: 'query', name: 'key' },
        cookieKey: { type: 'apiKey', in: 'cookie', name: 'session' },
      },
    },
  },
);

/** The same operations without credentials, for the tests that need no authentication. */
const plainSpec = openapi({
  '/items/{id}': (spec as { paths: Record<string, unknown> }).paths['/items/{id}'],
});

const consumers = { consumers: [{ name: 'partner-a', keys: [key.hash] }] };

describe('single reading of a request', () => {
  let gw: TestProxy;
  before(async () => {
    gw = await startProxy({
      upstream: recorder,
      spec,
      api: {
        name: 'shop',
        policies: {
          authenticate: {
            schemes: {
              partnerKey: { apiKey: consumers },
              queryKey: { apiKey: consumers },
              cookieKey: { apiKey: consumers },
            },
          },
        },
        // An identity header configured for one operation only is still the gateway's on every route.
        operations: {
          getUser: { policies: { protectResponse: { mode: 'enforce' } } },
          getAdmin: {
            policies: {
              authenticate: {
                schemes: { partnerKey: { apiKey: consumers } },
                forwardIdentity: { subjectHeader: 'X-Tenant-User' },
              },
            },
          },
        },
      },
    });
  });
  after(() => gw.close());

  async function refused(
    path: string,
    headers: Record<string, string | string[]>,
    reason: string,
    method = 'GET',
  ): Promise<void> {
    const before = seen.length;
    const res = await httpRequest(gw.url, { path, headers, method });
    assert.equal(res.status, 400, `${path} ${JSON.stringify(headers)}: ${res.body}`);
    const body = JSON.parse(res.body);
    assert.equal(body.type, problems.badRequest.type);
    assert.equal(typeof body.detail, 'string');
    assert.equal(body.instance, `urn:portcullis:request:${res.headers['x-request-id']}`);
    assert.equal(seen.length, before, 'nothing reached the upstream');
    const rec = gw.access.find((a) => a['http.request.id'] === res.headers['x-request-id']);
    assert.equal(rec?.['portcullis.decision'], reason);
  }

  test('refuses a second Authorization field instead of checking the first and forwarding both', async () => {
    await refused('/items/1', { authorization: ['Bearer valid', 'Bearer forged'] }, 'repeated_header');
  });

  test('refuses repeated single-value fields that policies read', async () => {
    for (const name of ['user-agent', 'content-type', 'referer', 'dpop', 'x-api-key', 'origin']) {
      await refused('/items/1', { [name]: ['a', 'b'] }, 'repeated_header');
    }
    // Node's client folds cookies into one line: send two Cookie lines by hand.
    const before = seen.length;
    const out = await rawExchange(
      gw.url,
      'GET /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=1\r\nCookie: a=2\r\nConnection: close\r\n\r\n',
    );
    assert.match(out, /^HTTP\/1\.1 400 /);
    assert.equal(seen.length, before);
  });

  test('refuses a repeated credential header named by the spec', async () => {
    await refused('/admin/1', { 'x-partner-key': [key.key, 'forged'] }, 'repeated_header');
  });

  test('refuses header names with an underscore, which CGI and WSGI upstreams read as dashes', async () => {
    await refused('/items/1', { X_Portcullis_Subject: 'admin' }, 'underscore_header');
    await refused('/items/1', { User_Agent: "' or 1=1 --" }, 'underscore_header');
  });

  test('forwards one of each single-value field untouched', async () => {
    const res = await httpRequest(gw.url, {
      path: '/items/1',
      headers: { 'user-agent': 'ua/1', 'x-custom': ['a', 'b'], accept: 'application/json' },
    });
    assert.equal(res.status, 200);
    const got = seen.at(-1)!;
    assert.equal(got.headers['user-agent'], 'ua/1');
    assert.equal(got.headers['x-custom'], 'a, b', 'list fields may repeat');
  });

  test('strips an identity header configured for one operation on every route of the API', async () => {
    const res = await httpRequest(gw.url, {
      path: '/items/1',
      headers: { 'x-tenant-user': 'admin', 'x-portcullis-subject': 'admin' },
    });
    assert.equal(res.status, 200);
    const got = seen.at(-1)!;
    assert.equal(got.headers['x-tenant-user'], undefined);
    assert.equal(got.headers['x-portcullis-subject'], undefined);
    const admin = await httpRequest(gw.url, {
      path: '/admin/1',
      headers: { 'x-partner-key': key.key, 'x-tenant-user': 'root' },
    });
    assert.equal(admin.status, 200);
    assert.equal(
      seen.at(-1)!.headers['x-tenant-user'],
      'partner-a',
      'the gateway sets it from the credential',
    );
  });

  test('drops method-override and client-address fields from an untrusted client', async () => {
    const sent = {
      'x-http-method-override': 'DELETE',
      'x-http-method': 'DELETE',
      'x-method-override': 'DELETE',
      'true-client-ip': '10.0.0.1',
      'x-client-ip': '10.0.0.1',
      'client-ip': '10.0.0.1',
      'cf-connecting-ip': '10.0.0.1',
      'x-cluster-client-ip': '10.0.0.1',
    };
    const res = await httpRequest(gw.url, { path: '/items/1', headers: sent });
    assert.equal(res.status, 200);
    const got = seen.at(-1)!;
    for (const name of Object.keys(sent)) assert.equal(got.headers[name], undefined, name);
    assert.equal(got.method, 'GET');
  });

  test('refuses a bearer token sent both in Authorization and in access_token (RFC 6750 §2)', async () => {
    await refused('/items/1?access_token=forged', { authorization: 'Bearer x' }, 'repeated_credential');
    await refused('/items/1?acc%65ss_token=forged', { authorization: 'Bearer x' }, 'repeated_credential');
  });

  test('refuses an apiKey query parameter or cookie given twice', async () => {
    await refused(`/partner?key=${key.key}&key=forged`, {}, 'repeated_credential');
    await refused(`/partner?key=${key.key}&k%65y=forged`, {}, 'repeated_credential');
    await refused('/partner', { cookie: `session=${key.key}; session=forged` }, 'repeated_credential');
    await refused('/partner', { cookie: `session=${key.key};session=forged` }, 'repeated_credential');
    const ok = await httpRequest(gw.url, { path: `/partner?key=${key.key}` });
    assert.equal(ok.status, 200);
  });

  test('refuses encoded separators and dot segments in every spelling before routing', async () => {
    for (const path of [
      '/items/..%2Fadmin',
      '/items/..%2fadmin',
      '/items/%2e%2e%2fadmin',
      '/items/a%5Cb',
      '/items/a%252Fb',
      '/items/a%255cb',
      '/items/%252e%252e',
      '/items/..;/admin/1',
      '/items/..;',
      '/items/.;x',
      '/items/%2e%2e;',
      '/items/%2E;jsessionid=1',
      '/items/1/..;/x',
    ]) {
      const before = seen.length;
      const res = await httpRequest(gw.url, { path });
      assert.equal(res.status, 400, path);
      assert.equal(seen.length, before, `${path} reached the upstream`);
    }
  });

  test('still forwards ordinary segments with dots, semicolons and percent-escapes', async () => {
    for (const path of ['/items/a.b', '/items/..a', '/items/a;b', '/items/caf%C3%A9', '/items/100%25']) {
      const res = await httpRequest(gw.url, { path });
      assert.equal(res.status, 200, path);
      assert.equal(seen.at(-1)!.url, path);
    }
  });

  test('answers Expect: 100-continue itself and forwards the body without the field', async () => {
    const res = await httpRequest(gw.url, {
      method: 'POST',
      path: '/items/1',
      headers: { expect: '100-continue', 'content-type': 'text/plain' },
      body: 'hello',
    });
    assert.equal(res.status, 200);
    const got = seen.at(-1)!;
    assert.equal(got.headers.expect, undefined);
    assert.equal(JSON.parse(res.body).got, 'hello');
  });

  test('does not reveal the unfiltered length of a filtered response to HEAD', async () => {
    const get = await httpRequest(gw.url, { path: '/users/1' });
    assert.deepEqual(JSON.parse(get.body), { id: 1, name: 'a' });
    const head = await httpRequest(gw.url, { method: 'HEAD', path: '/users/1' });
    assert.equal(head.status, 200);
    const upstreamLength = Buffer.byteLength(
      JSON.stringify({ id: 1, name: 'a', secret: 'not for clients', got: '' }),
    );
    assert.notEqual(Number(head.headers['content-length']), upstreamLength);
  });
});

/** Sends raw bytes on a new connection and returns everything the server wrote before closing. */
function rawExchange(url: string, text: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname, () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One response is enough: stop once its body (Content-Length) is in.
      const all = Buffer.concat(chunks).toString();
      const end = all.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(all);
      if (end !== -1 && len && all.length >= end + 4 + Number(len[1])) socket.end();
    });
    socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
    socket.on('error', reject);
  });
}

describe('Host', () => {
  let gw: TestProxy;
  before(async () => {
    gw = await startProxy({ upstream: recorder, spec: plainSpec, api: { name: 'shop' } });
  });
  after(() => gw.close());

  test('answers a request without Host with the gateway problem and a request id', async () => {
    const out = await rawExchange(gw.url, 'GET /items/1 HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 400 /);
    assert.match(out, /x-request-id: \S+/i);
    const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
    assert.equal(body.type, problems.badRequest.type);
    assert.match(body.detail, /Host/);
  });

  test('refuses two Host fields instead of routing by the first', async () => {
    const before = seen.length;
    const out = await rawExchange(
      gw.url,
      'GET /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: internal.example\r\nConnection: close\r\n\r\n',
    );
    assert.match(out, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
    assert.match(body.detail, /host/);
    assert.equal(seen.length, before);
  });
});

/** GETs `path` and says whether the response broke off before its end. */
function cutShort(url: string, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}${path}`, { agent: false }, (res) => {
      res.resume();
      res.on('error', () => {});
      res.on('close', () => resolve(!res.complete));
    });
    req.on('error', reject);
  });
}

describe('upstream failures', () => {
  /** The API `shop` behind a circuit breaker that opens after 5 calls, half of them failed. */
  const breakingApi = {
    name: 'shop',
    upstream: { circuitBreaker: { minCalls: 5, failureRatePercent: 50, openSeconds: 30, halfOpenCalls: 1 } },
  };

  test('Expect: 100-continue from anonymous clients never opens the circuit breaker', async () => {
    const gw = await startProxy({ upstream: recorder, spec: plainSpec, api: breakingApi });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await httpRequest(gw.url, {
          method: 'POST',
          path: '/items/1',
          headers: { expect: '100-continue' },
          body: 'x',
        });
        assert.equal(res.status, 200);
      }
      assert.equal((await httpRequest(gw.url, { path: '/items/1' })).status, 200);
    } finally {
      await gw.close();
    }
  });

  test('a response cut short after its headers is an upstream failure: record, metric and breaker', async () => {
    // Headers and half the declared body, then the connection is destroyed.
    const gw = await startProxy({
      upstream: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"id":');
        setTimeout(() => res.socket?.destroy(), 20);
      },
      spec: plainSpec,
      api: breakingApi,
    });
    try {
      for (let i = 0; i < 5; i++) assert.equal(await cutShort(gw.url, '/items/1'), true);
      const open = await httpRequest(gw.url, { path: '/items/1' });
      assert.equal(open.status, 503);
      const body = JSON.parse(open.body);
      assert.equal(body.type, problems.circuitOpen.type);
      assert.equal(typeof body.detail, 'string');
      // The records of the cut responses are written once the dispatch settles.
      for (let i = 0; i < 50 && gw.access.length < 6; i++) await new Promise((r) => setTimeout(r, 20));
      const cut = gw.access.filter((a) => a['portcullis.decision'] === 'upstream_response_incomplete');
      assert.equal(cut.length, 5);
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      assert.match(
        metrics,
        /portcullis_upstream_errors_total\{api="shop",reason="upstream_response_incomplete"\} 5/,
      );
    } finally {
      await gw.close();
    }
  });

  test('a filtered response larger than the inspection limit fails the call: 502, recorded as cut short', async () => {
    // 9 MB of JSON without a length: protectResponse asks for it whole, and the gateway holds at most 8 MB.
    const gw = await startProxy({
      upstream: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        if (req.url !== '/users/1') {
          res.end('{"id":2,"name":"b","secret":"x"}');
          return;
        }
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        res.write('{"id":1,"name":"');
        for (let i = 0; i < 9; i++) res.write(chunk);
        res.end('"}');
      },
      spec: openapi({ '/users/{id}': (spec as { paths: Record<string, unknown> }).paths['/users/{id}'] }),
      api: { name: 'shop', policies: { protectResponse: { mode: 'enforce' } } },
    });
    try {
      const res = await httpRequest(gw.url, { path: '/users/1' });
      assert.equal(res.status, 502);
      assert.equal(JSON.parse(res.body).type, problems.badGateway.type);
      for (let i = 0; i < 50 && gw.access.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(gw.access.at(-1)?.['portcullis.decision'], 'upstream_response_incomplete');
      // The next response of the same route is filtered as usual (the undeclared member stripped).
      const ok = await httpRequest(gw.url, { path: '/users/2' });
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body), { id: 2, name: 'b' });
    } finally {
      await gw.close();
    }
  });

  test('a 502 problem says what happened in detail', async () => {
    const up = await startServer(recorder);
    const url = up.url;
    await up.close();
    const gw = await startGateway({
      specs: { 'api.yaml': plainSpec },
      config: { apis: [{ name: 'shop', spec: 'api.yaml', upstream: { url } }] },
    });
    try {
      const res = await httpRequest(gw.url, { path: '/items/1' });
      assert.equal(res.status, 502);
      const body = JSON.parse(res.body);
      assert.equal(body.type, problems.badGateway.type);
      assert.ok(body.detail.length > 10);
    } finally {
      await gw.close();
    }
  });
});
