/**
 * The admin listener's guards, on the real listener the runtime starts: DNS rebinding protection (only
 * loopback, bound or configured `Host` values are answered) and the per-client lockout of wrong
 * credentials (sign-ins and bearer tokens alike). Clients are told apart by their source address: the
 * whole of 127.0.0.0/8 is the machine's own, so each test client connects from its own loopback address.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../src/core/problems.ts';
import {
  echoHandler,
  type HttpResult,
  httpRequest,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../harness.ts';
import { ADMIN_TOKEN, shopOperations, shopSpec } from './support.ts';

/** One admin request from `from` (a loopback source address) with exactly the headers given. */
function send(
  gw: TestGateway,
  path: string,
  opts: {
    from?: string;
    host?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
  } = {},
): Promise<HttpResult> {
  const port = Number(new URL(gw.adminUrl).port);
  const headers: Record<string, string> = { host: opts.host ?? `127.0.0.1:${port}`, ...opts.headers };
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  return httpRequest(gw.adminUrl, {
    method: opts.method,
    path,
    headers,
    body,
    localAddress: opts.from ?? '127.0.0.1',
  });
}

/** Writes a raw request head and reads the status line of the answer. */
function sendRaw(gw: TestGateway, head: string): Promise<string> {
  const port = Number(new URL(gw.adminUrl).port);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      text += c;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const WRONG = 'not-the-admin-token-0123456789';

describe('admin listener guards', () => {
  let upstream: TestServer;
  let gw: TestGateway;

  before(async () => {
    upstream = await startServer(echoHandler);
    gw = await startGateway({
      specs: { 'shop.yaml': shopSpec },
      config: {
        server: { trustedProxies: ['127.0.0.90'] },
        admin: { token: ADMIN_TOKEN, allowedHosts: ['admin.example.com', '*.ops.example.net'] },
        apis: [
          { name: 'shop', spec: 'shop.yaml', upstream: { url: upstream.url }, operations: shopOperations },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('answers the loopback Host names with any port', async () => {
    for (const host of ['localhost', 'localhost:9090', '127.0.0.1:1', '[::1]:9090', 'LOCALHOST']) {
      const res = await send(gw, '/api/status', { host, headers: bearer(ADMIN_TOKEN) });
      assert.equal(res.status, 200, host);
    }
  });

  test('refuses a DNS-rebinding Host with 421 misdirected-request on every admin path', async () => {
    for (const path of ['/api/status', '/api/login', '/', '/app.js', '/metrics', '/healthz', '/readyz']) {
      for (const host of ['evil.example:9090', 'evil.example', 'localhost.evil.example', '10.0.0.1']) {
        const res = await send(gw, path, { host, headers: bearer(ADMIN_TOKEN) });
        assert.equal(res.status, 421, `${host} ${path}`);
        assert.equal(res.headers['content-type'], 'application/problem+json');
        assert.equal(JSON.parse(res.body).type, problems.misdirectedRequest.type);
      }
    }
  });

  test('answers a Host listed in admin.allowedHosts, or under one of its wildcards', async () => {
    for (const host of ['admin.example.com:9090', 'Admin.Example.Com', 'grafana.ops.example.net']) {
      const res = await send(gw, '/api/status', { host, headers: bearer(ADMIN_TOKEN) });
      assert.equal(res.status, 200, host);
    }
    const bare = await send(gw, '/api/status', { host: 'ops.example.net', headers: bearer(ADMIN_TOKEN) });
    assert.equal(bare.status, 421);
  });

  test('refuses two Host fields with 400 and an absolute target for another host with 421', async () => {
    const two = await sendRaw(
      gw,
      'GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    assert.match(two, /^HTTP\/1\.1 400 /);
    const absolute = await sendRaw(
      gw,
      'GET http://evil.example/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    assert.match(absolute, /^HTTP\/1\.1 421 /);
    const missing = await sendRaw(gw, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.match(missing, /^HTTP\/1\.1 421 /);
  });

  test('locks out one client after 20 wrong sign-ins while another client still signs in', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await send(gw, '/api/login', {
        from: '127.0.0.11',
        method: 'POST',
        body: { token: WRONG },
      });
      assert.equal(res.status, 401, `attempt ${i + 1}`);
    }
    const locked = await send(gw, '/api/login', {
      from: '127.0.0.11',
      method: 'POST',
      body: { token: ADMIN_TOKEN },
    });
    assert.equal(locked.status, 429);
    assert.equal(JSON.parse(locked.body).type, problems.quotaExceeded.type);
    assert.match(String(locked.headers['retry-after']), /^[1-9][0-9]*$/);
    const other = await send(gw, '/api/login', {
      from: '127.0.0.12',
      method: 'POST',
      body: { token: ADMIN_TOKEN },
    });
    assert.equal(other.status, 204);
  });

  test('counts wrong bearer tokens toward the lockout, then refuses even the right token from that client', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await send(gw, '/api/status', { from: '127.0.0.21', headers: bearer(`${WRONG}${i}`) });
      assert.equal(res.status, 401, `attempt ${i + 1}`);
      assert.equal(JSON.parse(res.body).type, problems.invalidToken.type);
    }
    const right = await send(gw, '/api/status', { from: '127.0.0.21', headers: bearer(ADMIN_TOKEN) });
    assert.equal(right.status, 429);
    assert.match(String(right.headers['retry-after']), /^[1-9][0-9]*$/);
    const cookie = await send(gw, '/api/config', {
      from: '127.0.0.21',
      headers: { cookie: `portcullis_admin=${ADMIN_TOKEN}` },
    });
    assert.equal(cookie.status, 429);
    const login = await send(gw, '/api/login', {
      from: '127.0.0.21',
      method: 'POST',
      body: { token: ADMIN_TOKEN },
    });
    assert.equal(login.status, 429);
    const other = await send(gw, '/api/status', { from: '127.0.0.22', headers: bearer(ADMIN_TOKEN) });
    assert.equal(other.status, 200);
  });

  test('does not count requests without any credential toward the lockout', async () => {
    for (let i = 0; i < 25; i++) {
      const res = await send(gw, '/api/status', { from: '127.0.0.31' });
      assert.equal(res.status, 401);
      assert.equal(JSON.parse(res.body).type, problems.unauthorized.type);
    }
    const right = await send(gw, '/api/status', { from: '127.0.0.31', headers: bearer(ADMIN_TOKEN) });
    assert.equal(right.status, 200);
  });

  test('locks out the client a trusted proxy forwards for, not the proxy', async () => {
    const viaProxy = (client: string, token: string) =>
      send(gw, '/api/status', {
        from: '127.0.0.90',
        headers: { ...bearer(token), 'x-forwarded-for': client },
      });
    for (let i = 0; i < 20; i++) assert.equal((await viaProxy('203.0.113.5', WRONG)).status, 401);
    assert.equal((await viaProxy('203.0.113.5', ADMIN_TOKEN)).status, 429);
    assert.equal((await viaProxy('203.0.113.6', ADMIN_TOKEN)).status, 200);
    // An untrusted peer cannot pick its identity with the same header.
    for (let i = 0; i < 20; i++) {
      await send(gw, '/api/status', {
        from: '127.0.0.41',
        headers: { ...bearer(WRONG), 'x-forwarded-for': `198.51.100.${i}` },
      });
    }
    const forged = await send(gw, '/api/status', {
      from: '127.0.0.41',
      headers: { ...bearer(ADMIN_TOKEN), 'x-forwarded-for': '198.51.100.200' },
    });
    assert.equal(forged.status, 429);
  });
});
