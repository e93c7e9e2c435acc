/**
 * HTTP Basic authentication (RFC 7617) through the whole gateway: scrypt hashes from config, the
 * challenge, the same answer for unknown users and wrong passwords, the HTTPS rule, the scrypt work
 * limit, and the credential-abuse detector seeing stuffing against Basic.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { problems } from '../../../src/core/problems.ts';
import { hashPassword } from '../../../src/policies/authenticate/password-hash.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';
import { makePki, tlsListener } from './pki.ts';

/** The cheapest cost the config accepts, so the tests stay quick. */
const FAST = { N: 2 ** 14, r: 8, p: 1 };
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

const spec = openapi(
  {
    '/ops': { get: op('runOps', { security: [{ basicAuth: ['operator'] }] }) },
    '/reports': { get: op('readReports', { security: [{ basicAuth: [] }] }) },
  },
  { components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } } } },
);

/** One API of the test gateways: the spec above, its `basicAuth` scheme bound to `basic`. */
function basicApi(
  name: string,
  upstreamUrl: string,
  basic: Record<string, unknown>,
  extra: { basePath?: string; authenticate?: Record<string, unknown> } = {},
) {
  return {
    name,
    ...(extra.basePath ? { basePath: extra.basePath } : {}),
    spec: 'api.yaml',
    upstream: { url: upstreamUrl },
    policies: { authenticate: { ...extra.authenticate, schemes: { basicAuth: { basic } } } },
  };
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

describe('HTTP Basic through the whole gateway', () => {
  let upstream: TestServer;
  let gw: TestGateway;
  let lastUpstream: Record<string, unknown> = {};

  before(async () => {
    const [opsOld, opsNew, audit, slow] = await Promise.all([
      hashPassword('old ops password', FAST),
      hashPassword('new ops pässword', FAST),
      hashPassword('audit password', FAST),
      hashPassword('slow password', { N: 2 ** 16, r: 8, p: 1 }),
    ]);
    upstream = await startServer((req, res) => {
      lastUpstream = req.headers;
      echoHandler(req, res);
    });
    gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: {
        apis: [
          basicApi(
            'ops-api',
            upstream.url,
            {
              allowPlainHttp: true, // the test listener is plain HTTP on loopback
              consumers: [
                {
                  name: 'ops',
                  roles: ['operator'],
                  metadata: { team: 'sre' },
                  passwordHashes: [opsOld, opsNew],
                },
                { name: 'audit', passwordHashes: [audit] },
              ],
            },
            { authenticate: { forwardIdentity: { methodHeader: 'X-Portcullis-Auth-Method' } } },
          ),
          basicApi(
            'legacy',
            upstream.url,
            {
              allowPlainHttp: true,
              forwardAuthorization: true,
              consumers: [{ name: 'audit', roles: ['operator'], passwordHashes: [audit] }],
            },
            { basePath: '/legacy' },
          ),
          basicApi(
            'busy',
            upstream.url,
            {
              allowPlainHttp: true,
              maxConcurrentHashes: 1,
              maxQueuedHashes: 0,
              consumers: [{ name: 'slow', passwordHashes: [slow] }],
            },
            { basePath: '/busy' },
          ),
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(gw.url + path, { headers });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  };
  const authEvents = () => gw.events.filter((e) => e['event.action'] === 'authenticate');
  const accessEvents = () => gw.events.filter((e) => e['event.type'] === 'access');

  test('answers 401 with a Basic challenge in the API realm, charset UTF-8, when no credentials are sent', async () => {
    const res = await get('/reports');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="ops-api", charset="UTF-8"');
    assert.equal((JSON.parse(res.text) as Problem).type, problems.unauthorized.type);
  });

  test('forwards a consumer with either of its live passwords, naming it and its method upstream', async () => {
    for (const password of ['old ops password', 'new ops pässword']) {
      const res = await get('/ops', { authorization: basic('ops', password) });
      assert.equal(res.status, 200, password);
      assert.equal(lastUpstream['x-portcullis-subject'], 'ops');
      assert.equal(lastUpstream['x-portcullis-consumer'], 'ops');
      assert.equal(lastUpstream['x-portcullis-roles'], 'operator');
      assert.equal(lastUpstream['x-portcullis-auth-method'], 'basic');
      // The verified password stops at the gateway.
      assert.equal(lastUpstream.authorization, undefined);
    }
    // A cached success answers the same.
    assert.equal((await get('/ops', { authorization: basic('ops', 'old ops password') })).status, 200);
    assert.equal(lastUpstream.authorization, undefined);
  });

  test('forwards the Authorization header only where forwardAuthorization says so', async () => {
    const res = await get('/legacy/ops', { authorization: basic('audit', 'audit password') });
    assert.equal(res.status, 200);
    assert.equal(lastUpstream.authorization, basic('audit', 'audit password'));
    assert.equal(lastUpstream['x-portcullis-subject'], 'audit');
  });

  test('answers an unknown user exactly like a wrong password, telling them apart only in events', async () => {
    const before = gw.events.length;
    const wrong = await get('/reports', { authorization: basic('audit', 'guess-1') });
    const unknown = await get('/reports', { authorization: basic('mallory', 'guess-1') });
    for (const res of [wrong, unknown]) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="ops-api", charset="UTF-8"');
    }
    const [pw, user] = [JSON.parse(wrong.text) as Problem, JSON.parse(unknown.text) as Problem];
    assert.deepEqual(
      { type: pw.type, title: pw.title, status: pw.status, detail: pw.detail },
      { type: user.type, title: user.title, status: user.status, detail: user.detail },
    );
    assert.equal(pw.type, problems.invalidToken.type);
    const events = authEvents().slice(-2);
    assert.deepEqual(
      events.map((e) => [e['event.reason'], e['user.name'], e['portcullis.scheme']]),
      [
        ['bad_credentials', 'audit', 'basicAuth'],
        ['unknown_user', 'mallory', 'basicAuth'],
      ],
    );
    // The access events carry the user-id too (the credential-abuse detector reads them), and no
    // fingerprint of the password.
    const access = accessEvents().slice(-2);
    assert.deepEqual(
      access.map((e) => [e['http.response.status_code'], e['user.name'], e['portcullis.credential.hash']]),
      [
        [401, 'audit', undefined],
        [401, 'mallory', undefined],
      ],
    );
    assert.equal(JSON.stringify(gw.events.slice(before)).includes('guess-1'), false);
  });

  test('refuses malformed credentials with 401 malformed_credentials', async () => {
    const res = await get('/reports', { authorization: 'Basic bm8tY29sb24=' }); // "no-colon"
    assert.equal(res.status, 401);
    assert.equal(authEvents().at(-1)?.['event.reason'], 'malformed_credentials');
  });

  test('refuses a consumer without the role the requirement lists with 403', async () => {
    const res = await get('/ops', { authorization: basic('audit', 'audit password') });
    assert.equal(res.status, 403);
    assert.equal((JSON.parse(res.text) as Problem).type, problems.forbidden.type);
    assert.equal(authEvents().at(-1)?.['event.reason'], 'insufficient_role');
  });

  test('answers 503 with Retry-After when scrypt work is saturated, and 401 for the checks it ran', async () => {
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((pw) => get('/busy/reports', { authorization: basic('slow', pw) })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.ok(statuses.includes(401), statuses.join());
    assert.ok(statuses.includes(503), statuses.join());
    const busy = results.find((r) => r.status === 503)!;
    assert.equal(busy.headers.get('retry-after'), '5');
    assert.equal((JSON.parse(busy.text) as Problem).type, problems.serviceUnavailable.type);
    assert.ok(authEvents().some((e) => e['event.reason'] === 'basic_overloaded'));
    assert.equal((await get('/busy/reports', { authorization: basic('slow', 'slow password') })).status, 200);
  });
});

describe('HTTP Basic is refused over plain HTTP unless allowPlainHttp is set', () => {
  let dir: string;
  let upstream: TestServer;
  let gw: TestGateway;
  let ca: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-basic-tls-'));
    const pki = makePki(dir);
    ca = pki.caNamed('ca').cert;
    const server = pki.leaf('server', '/CN=127.0.0.1', 'IP:127.0.0.1', 'ca', 'serverAuth');
    upstream = await startServer(echoHandler);
    gw = await startGateway({
      specs: { 'api.yaml': spec, 'server.crt': server.cert, 'server.key': server.key },
      config: {
        server: {
          listen: [tlsListener(), { host: '127.0.0.1', port: 0 }],
        },
        apis: [
          basicApi('ops-api', upstream.url, {
            consumers: [{ name: 'audit', passwordHashes: [await hashPassword('audit password', FAST)] }],
          }),
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('accepts the credentials over HTTPS', async () => {
    const https = gw.runtime.urls.find((u) => u.startsWith('https:'))!;
    const dispatcher = new Agent({ connect: { ca } });
    try {
      const res = await request(`${https}/reports`, {
        dispatcher,
        headers: { authorization: basic('audit', 'audit password') },
      });
      await res.body.text();
      assert.equal(res.statusCode, 200);
    } finally {
      await dispatcher.close();
    }
  });

  test('refuses the same credentials over plain HTTP with 403 insecure_transport, without checking them', async () => {
    const plain = gw.runtime.urls.find((u) => u.startsWith('http:'))!;
    const res = await fetch(`${plain}/reports`, {
      headers: { authorization: basic('audit', 'audit password') },
    });
    // No Basic challenge over plain HTTP: a browser would ask for the password and send it in the clear.
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), null);
    const body = (await res.json()) as Problem;
    assert.equal(body.detail, 'Basic credentials are accepted only over HTTPS');
    const event = gw.events.findLast((e) => e['event.action'] === 'authenticate');
    assert.deepEqual([event?.['event.reason'], event?.['user.name']], ['insecure_transport', 'audit']);
    // The access record names the user too: the credential-abuse detector counts failures per user name.
    const access = gw.access.at(-1) as Record<string, unknown> | undefined;
    assert.deepEqual([access?.['http.response.status_code'], access?.['user.name']], [403, 'audit']);
  });

  test('challenges for Basic over HTTPS only: without credentials, plain HTTP gets 403 and no challenge', async () => {
    const plain = gw.runtime.urls.find((u) => u.startsWith('http:'))!;
    const res = await fetch(`${plain}/reports`);
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.equal(
      ((await res.json()) as Problem).detail,
      'This operation accepts credentials only over HTTPS.',
    );

    const https = gw.runtime.urls.find((u) => u.startsWith('https:'))!;
    const dispatcher = new Agent({ connect: { ca } });
    try {
      const secure = await request(`${https}/reports`, { dispatcher });
      await secure.body.text();
      assert.equal(secure.statusCode, 401);
      assert.equal(secure.headers['www-authenticate'], 'Basic realm="ops-api", charset="UTF-8"');
    } finally {
      await dispatcher.close();
    }
  });
});

describe('credential stuffing against HTTP Basic', () => {
  const ADMIN_TOKEN = 'basic-stuffing-admin-token-0123456789';
  let upstream: TestServer;
  let gw: TestGateway;

  before(async () => {
    upstream = await startServer(echoHandler);
    gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: {
        admin: { token: ADMIN_TOKEN },
        monitor: {
          events: { store: 'sqlite', sqlite: { path: ':memory:', worker: false }, flushIntervalMs: 20 },
        },
        apis: [
          basicApi('ops-api', upstream.url, {
            allowPlainHttp: true,
            consumers: [{ name: 'audit', passwordHashes: [await hashPassword('audit password', FAST)] }],
          }),
        ],
      },
      // No sink from the test: the runtime runs the monitor and its detectors.
      runtime: { events: undefined },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('raises the credential-abuse stuffing-from-ip alert for one address trying ten user names', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${gw.url}/reports`, {
        headers: { authorization: basic(`user${i}`, 'Summer2024!') },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 401);
    }
    let alerts: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100 && !alerts.some((a) => a['rule.name'] === 'stuffing-from-ip'); i++) {
      const res = await fetch(`${gw.adminUrl}/api/alerts`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      alerts = ((await res.json()) as { alerts: typeof alerts }).alerts;
      if (!alerts.some((a) => a['rule.name'] === 'stuffing-from-ip'))
        await new Promise((r) => setTimeout(r, 20));
    }
    const alert = alerts.find((a) => a['rule.name'] === 'stuffing-from-ip');
    assert.ok(alert, JSON.stringify(alerts));
    assert.equal(alert['event.action'], 'credential-abuse');
    assert.equal(alert['client.address'], '127.0.0.1');
    assert.match(String(alert.message), /as 10 different users/);
  });
});
