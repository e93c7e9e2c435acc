/**
 * HTTP/2 to the gateway (issue 18 item 3): h2 and http/1.1 on one TLS port by ALPN, h2c with prior
 * knowledge where a listener opts in, and one reading of each request whatever the protocol — pseudo-header
 * fields never reach the upstream, `:authority` is the Host, repeats are refused alike. Real TLS (a private
 * CA made with the openssl CLI), a real upstream that records what reaches it, node:http2 clients, and a
 * raw frame writer for the requests node:http2 refuses to send. Towards upstreams HTTP/2 is opt-in per
 * upstream (`alpn` over TLS, `h2c` with prior knowledge); without it the gateway speaks HTTP/1.1 even to an
 * upstream that prefers h2.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../src/core/problems.ts';
import { createApiKey } from '../../src/policies/authenticate/api-key.ts';
import {
  buildConfig,
  op,
  openapi,
  startGateway,
  startProxy,
  type TestGateway,
  type TestProxy,
  tempFiles,
} from '../harness.ts';

/** A private CA and a server certificate for localhost and 127.0.0.1, made with the openssl CLI. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=Test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  run('req', ...ec, '-subj', '/CN=localhost', '-keyout', 'srv.key', '-out', 'srv.csr');
  writeFileSync(path.join(dir, 'srv.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'srv.ext',
    '-out',
    'srv.crt',
  );
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'srv.crt'), key: path.join(dir, 'srv.key') };
}

interface H2Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/** One request on an open HTTP/2 session; resolves with the whole response. */
function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }),
    );
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** An HPACK literal field without indexing, new name, no Huffman coding (RFC 7541 §6.2.2). */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  assert.ok(n.length < 127 && v.length < 127);
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * Sends one request of exactly these header fields over h2c prior knowledge, as node:http2's client will
 * not (it refuses a second `authorization`, or a missing `:authority`). Resolves with how stream 1 ended:
 * `response` (the server answered it), `reset` (RST_STREAM) or `goaway`.
 */
function rawH2cRequest(
  port: number,
  fields: Array<[string, string]>,
): Promise<'response' | 'reset' | 'goaway'> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffered = Buffer.alloc(0);
    let answered = false;
    const done = (how: 'response' | 'reset' | 'goaway') => {
      socket.destroy();
      resolve(how);
    };
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('connection closed before stream 1 ended')));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) return;
        const [type, flags] = [buffered[3], buffered[4]];
        const stream = buffered.readUInt32BE(5) & 0x7fffffff;
        buffered = buffered.subarray(9 + length);
        if (type === 0x4 && (flags & 0x1) === 0) socket.write(frame(0x4, 0x1, 0, Buffer.alloc(0)));
        if (type === 0x7) return done(answered ? 'response' : 'goaway');
        if (stream !== 1) continue;
        if (type === 0x3) return done(answered ? 'response' : 'reset');
        if (type === 0x1) answered = true;
        if ((type === 0x0 || type === 0x1) && (flags & 0x1) !== 0) return done('response');
      }
    });
    const block = Buffer.concat(fields.map(([n, v]) => literal(n, v)));
    socket.write(
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        frame(0x4, 0, 0, Buffer.alloc(0)),
        frame(0x1, 0x5, 1, block), // HEADERS, END_STREAM | END_HEADERS
      ]),
    );
  });
}

/** What reached the upstream, newest last. */
const seen: Array<{ method: string; url: string; version: string; raw: string[]; body: string }> = [];
function recorder(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      version: req.httpVersion,
      raw: req.rawHeaders,
      body,
    });
    const text = JSON.stringify({ ok: true });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  });
}

/** The newest access record of `g`, as the event it also is. */
function lastRecord(g: TestGateway): Record<string, unknown> {
  const r = g.access.at(-1);
  assert.ok(r, 'an access record');
  return r as unknown as Record<string, unknown>;
}

/** The upstream's view of one request's header fields, lower-case names. */
function fieldsOf(raw: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    out.set(name, [...(out.get(name) ?? []), raw[i + 1]]);
  }
  return out;
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
    '/partner': { get: op('getPartner', { security: [{ partnerKey: [] }] }) },
    '/limited': { get: op('getLimited') },
  },
  {
    components: { securitySchemes: { partnerKey: { type: 'apiKey', in: 'header', name: 'X-Partner-Key' } } },
  },
);

describe('HTTP/2 clients', () => {
  let gw: TestProxy;
  let ca: Buffer;
  let tlsPort: number;
  let h2cPort: number;
  let plainPort: number;
  before(async () => {
    const dir = await tempFiles({});
    const pki = makeCertificates(dir);
    ca = readFileSync(pki.ca);
    gw = await startProxy({
      upstream: recorder,
      spec,
      config: {
        server: {
          listen: [
            // No http2 key: a TLS listener offers h2 and http/1.1 by default.
            { host: '127.0.0.1', port: 0, tls: { certFile: pki.cert, keyFile: pki.key } },
            { host: '127.0.0.1', port: 0, http2: 'h2c' },
            { host: '127.0.0.1', port: 0 },
          ],
        },
      },
      api: {
        name: 'shop',
        policies: {
          authenticate: {
            schemes: { partnerKey: { apiKey: { consumers: [{ name: 'p', keys: [key.hash] }] } } },
          },
        },
        operations: {
          getLimited: {
            policies: {
              rateLimit: {
                limits: [{ name: 'per-ip', algorithm: 'fixed-window', limit: 3, windowSeconds: 3600 }],
              },
            },
          },
        },
      },
    });
    const ports = gw.runtime.urls.map((u) => Number(new URL(u).port));
    [tlsPort, h2cPort, plainPort] = ports;
  });
  after(() => gw.close());

  function connectTls(): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(`https://localhost:${tlsPort}`, { ca });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  function h1Get(pathName: string, headers: Record<string, string> = {}) {
    return new Promise<{
      status: number;
      alpn: string | false | null;
      body: string;
      headers: IncomingMessage['headers'];
    }>((resolve, reject) => {
      const options: https.RequestOptions & { ALPNProtocols: string[] } = {
        host: 'localhost',
        port: tlsPort,
        path: pathName,
        ca,
        ALPNProtocols: ['http/1.1'],
        headers,
        agent: false,
      };
      const req = https.request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('serves h2 and http/1.1 on one TLS port, each as its client chose by ALPN', async () => {
    const session = await connectTls();
    try {
      assert.equal(session.alpnProtocol, 'h2');
      const r = await h2Request(session, { ':path': '/items/1' });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { ok: true });
      const id = r.headers['x-request-id'];
      assert.equal(typeof id, 'string');
      assert.match(String(r.headers['strict-transport-security']), /max-age=/);
      const record = lastRecord(gw);
      assert.equal(record['http.request.id'], id);
      assert.equal(record['http.route'], '/items/{id}');
      assert.equal(record['portcullis.decision'], 'allow');
    } finally {
      session.close();
    }
    const h1 = await h1Get('/items/2');
    assert.equal(h1.alpn, 'http/1.1');
    assert.equal(h1.status, 200);
    assert.equal(seen.at(-1)?.url, '/items/2');
  });

  test('forwards an h2 request as an HTTP/1.1 one: no pseudo-header fields, :authority as Host, cookies joined', async () => {
    const session = await connectTls();
    try {
      const r = await h2Request(session, {
        ':path': '/items/7?q=1',
        cookie: ['a=1', 'b=2'],
        'x-trace-me': 'yes',
      });
      assert.equal(r.status, 200);
    } finally {
      session.close();
    }
    const got = seen.at(-1)!;
    assert.equal(got.url, '/items/7?q=1');
    assert.equal(got.method, 'GET');
    const fields = fieldsOf(got.raw);
    assert.deepEqual(
      [...fields.keys()].filter((n) => n.startsWith(':')),
      [],
      'no pseudo-header field reaches the upstream',
    );
    assert.deepEqual(fields.get('host'), [`127.0.0.1:${gw.upstream.port}`]);
    assert.deepEqual(fields.get('cookie'), ['a=1; b=2']);
    assert.deepEqual(fields.get('x-trace-me'), ['yes']);
    assert.deepEqual(fields.get('x-forwarded-proto'), ['https']);
    assert.deepEqual(fields.get('x-forwarded-host'), [`localhost:${tlsPort}`]);
  });

  test('forwards the body of an h2 request that declares no length', async () => {
    const session = await connectTls();
    try {
      // node:http2 sends no content-length of its own: the body is known only by the stream staying open.
      const r = await h2Request(session, { ':path': '/items/3', ':method': 'POST' }, 'hello over h2');
      assert.equal(r.status, 200);
    } finally {
      session.close();
    }
    assert.equal(seen.at(-1)?.method, 'POST');
    assert.equal(seen.at(-1)?.body, 'hello over h2');
  });

  test('refuses an API-key route without its key over h2 with the same problem as over HTTP/1.1', async () => {
    const session = await connectTls();
    try {
      const h2 = await h2Request(session, { ':path': '/partner' });
      const h1 = await h1Get('/partner');
      assert.equal(h2.status, 401);
      assert.equal(h1.status, 401);
      const [p2, p1] = [JSON.parse(h2.body), JSON.parse(h1.body)];
      assert.equal(p2.type, problems.unauthorized.type);
      assert.equal(p2.instance, `urn:portcullis:request:${h2.headers['x-request-id']}`);
      assert.deepEqual({ ...p2, instance: '' }, { ...p1, instance: '' });
      assert.equal(h2.headers['www-authenticate'], h1.headers['www-authenticate']);
      const ok = await h2Request(session, { ':path': '/partner', 'x-partner-key': key.key });
      assert.equal(ok.status, 200);
      assert.equal(lastRecord(gw)['portcullis.consumer'], 'p');
    } finally {
      session.close();
    }
  });

  test('counts h2 and HTTP/1.1 requests against one rate limit and answers 429 over h2', async () => {
    const session = await connectTls();
    try {
      assert.equal((await h2Request(session, { ':path': '/limited' })).status, 200);
      assert.equal((await h1Get('/limited')).status, 200);
      assert.equal((await h2Request(session, { ':path': '/limited' })).status, 200);
      const refused = await h2Request(session, { ':path': '/limited' });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.equal(JSON.parse(refused.body).type, problems.quotaExceeded.type);
      assert.equal((await h1Get('/limited')).status, 429);
    } finally {
      session.close();
    }
  });

  test('refuses a field name with _ over h2, as over HTTP/1.1', async () => {
    const session = await connectTls();
    const before = seen.length;
    try {
      const r = await h2Request(session, { ':path': '/items/1', x_partner_key: 'k' });
      assert.equal(r.status, 400);
      assert.equal(lastRecord(gw)['event.reason'], 'underscore_header');
    } finally {
      session.close();
    }
    assert.equal(seen.length, before);
  });

  test('serves HTTP/2 with prior knowledge on a listener that opts in to h2c', async () => {
    const session = http2.connect(`http://127.0.0.1:${h2cPort}`);
    try {
      const r = await h2Request(session, { ':path': '/items/5' });
      assert.equal(r.status, 200);
    } finally {
      session.close();
    }
    assert.deepEqual(fieldsOf(seen.at(-1)!.raw).get('x-forwarded-proto'), ['http']);
    // A listener without the flag speaks HTTP/1.1 only: the HTTP/2 preface is no request to it.
    const plain = http2.connect(`http://127.0.0.1:${plainPort}`);
    plain.on('error', () => {});
    await assert.rejects(h2Request(plain, { ':path': '/items/5' }));
    plain.destroy();
  });

  test('refuses two authorization fields in one h2 request with 400 repeated_header', async () => {
    const before = seen.length;
    const how = await rawH2cRequest(h2cPort, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', `127.0.0.1:${h2cPort}`],
      [':path', '/partner'],
      ['authorization', 'Bearer one'],
      ['authorization', 'Bearer two'],
    ]);
    assert.equal(how, 'response');
    const record = lastRecord(gw);
    assert.equal(record['http.response.status_code'], 400);
    assert.equal(record['event.reason'], 'repeated_header');
    assert.equal(seen.length, before);
  });

  test('refuses an h2 request whose Host disagrees with its :authority', async () => {
    const before = seen.length;
    const how = await rawH2cRequest(h2cPort, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', `127.0.0.1:${h2cPort}`],
      [':path', '/items/1'],
      ['host', 'internal.example'],
    ]);
    assert.equal(how, 'response');
    const record = lastRecord(gw);
    assert.equal(record['http.response.status_code'], 400);
    assert.equal(record['event.reason'], 'repeated_header');
    assert.equal(seen.length, before);
    // The same Host as :authority is one host, named twice alike: served.
    const same = await rawH2cRequest(h2cPort, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', `127.0.0.1:${h2cPort}`],
      [':path', '/items/1'],
      ['host', `127.0.0.1:${h2cPort}`],
    ]);
    assert.equal(same, 'response');
    assert.equal(lastRecord(gw)['http.response.status_code'], 200);
    assert.deepEqual(fieldsOf(seen.at(-1)!.raw).get('host'), [`127.0.0.1:${gw.upstream.port}`]);
  });

  test('never serves an h2 request with neither :authority nor Host', async () => {
    const before = seen.length;
    // node:http2 resets the stream itself (RFC 9113 §8.3.1), before the gateway would refuse it as a
    // missing Host: either way no request without a host is routed.
    const how = await rawH2cRequest(h2cPort, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/items/1'],
    ]);
    assert.notEqual(how, 'response');
    assert.equal(seen.length, before);
  });

  test('never forwards HTTP/2 connection-specific fields: te is dropped, connection resets the stream', async () => {
    const withTe = await rawH2cRequest(h2cPort, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', `127.0.0.1:${h2cPort}`],
      [':path', '/items/9'],
      ['te', 'trailers'],
    ]);
    assert.equal(withTe, 'response');
    assert.equal(seen.at(-1)?.url, '/items/9');
    assert.equal(fieldsOf(seen.at(-1)!.raw).has('te'), false);
    const before = seen.length;
    // RFC 9113 §8.2.2: a request with a connection-specific field is malformed.
    const withConnection = await rawH2cRequest(h2cPort, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', `127.0.0.1:${h2cPort}`],
      [':path', '/items/10'],
      ['connection', 'keep-alive'],
    ]);
    assert.notEqual(withConnection, 'response');
    assert.equal(seen.length, before);
  });
});

describe('HTTP/2 listener config', () => {
  test('refuses alpn on a plain listener and h2c on a TLS one, naming the field', async () => {
    const dir = await tempFiles({ 'api.yaml': openapi({ '/a': { get: op('a') } }) });
    const api = [{ name: 'a', spec: 'api.yaml', upstream: { url: 'http://127.0.0.1:1' } }];
    assert.throws(
      () => buildConfig({ server: { listen: [{ port: 0, http2: 'alpn' }] }, apis: api }, dir),
      /server\.listen\[0\]\.http2: must be one of "h2c", "off"/,
    );
    assert.throws(
      () =>
        buildConfig(
          {
            server: { listen: [{ port: 0, http2: 'h2c', tls: { certFile: 'c', keyFile: 'k' } }] },
            apis: api,
          },
          dir,
        ),
      /server\.listen\[0\]\.http2: must be one of "alpn", "off"/,
    );
    assert.throws(
      () =>
        buildConfig({ apis: [{ ...api[0], upstream: { url: 'https://127.0.0.1:1', http2: 'h2c' } }] }, dir),
      /apis\[0\]\.upstream\.http2: must be one of "alpn", "off"/,
    );
  });
});

/** What reached an HTTP/2 upstream, newest last. */
const seenUpstream: Array<{ upstream: string; version: string; url: string; raw: string[]; body: string }> =
  [];
function h2Recorder(name: string) {
  return (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seenUpstream.push({
        upstream: name,
        version: req.httpVersion,
        url: req.url,
        raw: req.rawHeaders,
        body,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ upstream: name, version: req.httpVersion, body }));
    });
  };
}

async function listen(server: http2.Http2SecureServer | http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const echoSpec = openapi({ '/echo': { post: op('echo'), get: op('read') } });

describe('HTTP/2 upstreams', () => {
  let gw: TestGateway;
  let tlsUpstream: http2.Http2SecureServer;
  let h2cUpstream: http2.Http2Server;
  before(async () => {
    const dir = await tempFiles({});
    const pki = makeCertificates(dir);
    // Speaks both, and prefers h2 when a client offers it (node:http2's ALPN order).
    tlsUpstream = http2.createSecureServer(
      { cert: readFileSync(pki.cert), key: readFileSync(pki.key), allowHTTP1: true },
      h2Recorder('tls'),
    );
    h2cUpstream = http2.createServer(h2Recorder('h2c'));
    const tlsPort = await listen(tlsUpstream);
    const h2cPort = await listen(h2cUpstream);
    const tlsUrl = `https://localhost:${tlsPort}`;
    gw = await startGateway({
      specs: { 'api.yaml': echoSpec },
      config: {
        apis: [
          {
            name: 'alpn',
            spec: 'api.yaml',
            basePath: '/alpn',
            upstream: { url: tlsUrl, http2: 'alpn', tls: { caFile: pki.ca } },
          },
          {
            name: 'default',
            spec: 'api.yaml',
            basePath: '/default',
            upstream: { url: tlsUrl, tls: { caFile: pki.ca } },
          },
          {
            name: 'h2c',
            spec: 'api.yaml',
            basePath: '/h2c',
            upstream: { url: `http://127.0.0.1:${h2cPort}`, http2: 'h2c' },
          },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    tlsUpstream.close();
    h2cUpstream.close();
  });

  async function post(path: string, body: string) {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain' },
    });
    return {
      status: res.status,
      json: (await res.json()) as { upstream: string; version: string; body: string },
    };
  }

  test('speaks h2 to a TLS upstream that offers it when the upstream opts in', async () => {
    const r = await post('/alpn/echo', 'to h2');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { upstream: 'tls', version: '2.0', body: 'to h2' });
    const got = seenUpstream.at(-1)!;
    assert.equal(got.url, '/echo');
    const names = got.raw.filter((_, i) => i % 2 === 0);
    // The upstream's own request pseudo-header fields, and no HTTP/1.1 connection field.
    for (const n of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host'])
      assert.ok(!names.includes(n), n);
    const authority = got.raw[got.raw.indexOf(':authority') + 1];
    assert.equal(authority, new URL(`https://localhost:${(tlsUpstream.address() as AddressInfo).port}`).host);
    assert.equal(lastRecord(gw)['portcullis.decision'], 'allow');
  });

  test('speaks HTTP/1.1 to an upstream that prefers h2 unless the upstream opts in', async () => {
    const r = await post('/default/echo', 'to h1');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { upstream: 'tls', version: '1.1', body: 'to h1' });
  });

  test('speaks h2c with prior knowledge to a plain upstream that opts in', async () => {
    const r = await post('/h2c/echo', 'to h2c');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { upstream: 'h2c', version: '2.0', body: 'to h2c' });
    const res = await fetch(`${gw.url}/h2c/echo`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { upstream: string }).upstream, 'h2c');
  });
});
