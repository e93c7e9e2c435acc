import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../src/core/problems.ts';
import {
  ADMIN_TOKEN,
  ALICE,
  adminFetch,
  type DashboardGateway,
  json,
  startDashboardGateway,
} from './support.ts';

const PROTECTED_GETS = [
  '/api/status',
  '/api/config',
  '/api/events',
  '/api/alerts',
  '/api/bans',
  '/api/consumers',
  '/api/inventory',
  '/api/stats',
  '/api/stream',
];

/** Reads Server-Sent Events from the admin stream until `until` returns true for one of them. */
function readStream(
  url: string,
  until: (type: string, data: unknown) => boolean,
): Promise<{ type: string; data: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end = buf.indexOf('\n\n');
        while (end !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data !== undefined) {
            const parsed = JSON.parse(data);
            if (until(type, parsed)) {
              req.destroy();
              return resolve({ type, data: parsed });
            }
          }
          end = buf.indexOf('\n\n');
        }
      });
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    setTimeout(() => {
      req.destroy();
      reject(new Error('no matching event within 10 s'));
    }, 10_000).unref();
  });
}

describe('admin API', () => {
  let d: DashboardGateway;
  before(async () => {
    d = await startDashboardGateway();
  });
  after(() => d.close());

  test('answers 401 with WWW-Authenticate: Bearer and a problem to every API route without a token', async () => {
    for (const path of PROTECTED_GETS) {
      const res = await adminFetch(d, path, { token: null });
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="portcullis-admin"/, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', path);
      assert.equal((await json(res)).type, problems.unauthorized.type, path);
    }
  });

  test('refuses a wrong token of the same length with 401', async () => {
    const wrong = ADMIN_TOKEN.slice(0, -1) + (ADMIN_TOKEN.endsWith('9') ? '8' : '9');
    const res = await adminFetch(d, '/api/status', { token: wrong });
    assert.equal(res.status, 401);
  });

  test('serves the dashboard files without a token, with a strict CSP, and revalidates them by ETag', async () => {
    const res = await fetch(`${d.gw.adminUrl}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(await res.text(), /<script type="module" src="\/app.js"><\/script>/);
    const js = await fetch(`${d.gw.adminUrl}/app.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const etag = js.headers.get('etag')!;
    await js.arrayBuffer();
    const again = await fetch(`${d.gw.adminUrl}/app.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const missing = await fetch(`${d.gw.adminUrl}/nope.js`);
    assert.equal(missing.status, 404);
  });

  test('logs in with the token by setting an HttpOnly SameSite=Strict cookie that authorizes later calls', async () => {
    const bad = await adminFetch(d, '/api/login', {
      method: 'POST',
      token: null,
      body: { token: 'wrong-token' },
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
    const res = await adminFetch(d, '/api/login', {
      method: 'POST',
      token: null,
      body: { token: ADMIN_TOKEN },
    });
    assert.equal(res.status, 204);
    const cookie = res.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^portcullis_admin=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const status = await adminFetch(d, '/api/status', {
      token: null,
      headers: { cookie: cookie.split(';')[0] },
    });
    assert.equal(status.status, 200);
    const out = await adminFetch(d, '/api/logout', { method: 'POST', token: null });
    assert.match(out.headers.get('set-cookie') ?? '', /^portcullis_admin=; .*Max-Age=0/);
  });

  test('treats a malformed cookie or ban path as a client error, not a server error', async () => {
    const cookie = await adminFetch(d, '/api/status', {
      token: null,
      headers: { cookie: 'portcullis_admin=%E0%A4%A' },
    });
    assert.equal(cookie.status, 401);
    const path = await adminFetch(d, '/api/bans/ip/%E0%A4%A', { method: 'DELETE' });
    assert.equal(path.status, 400);
  });

  test('refuses a state-changing call from another origin even with a valid token', async () => {
    const res = await adminFetch(d, '/api/bans', {
      method: 'POST',
      body: { kind: 'ip', value: '192.0.2.1', ttlSeconds: 60 },
      headers: { origin: 'http://evil.example' },
    });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).type, problems.forbidden.type);
    const bans = await (await adminFetch(d, '/api/bans')).json();
    assert.equal(bans.bans.length, 0);
  });

  test('reports version, uptime, in-flight requests and the event sink counters', async () => {
    const body = await (await adminFetch(d, '/api/status')).json();
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof body.uptimeSeconds, 'number');
    assert.equal(body.inFlight, 0);
    assert.equal(body.operations, 4);
    assert.equal(body.stateStore, 'memory');
    assert.deepEqual(Object.keys(body.sink).sort(), [
      'buffered',
      'dropped',
      'emitted',
      'storeHealthy',
      'writeErrors',
      'written',
    ]);
    assert.deepEqual(body.features, { events: true, alerts: true, bans: true, reload: true, live: true });
  });

  test('shows the running config with the admin token redacted', async () => {
    const res = await adminFetch(d, '/api/config');
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.ok(!text.includes(ADMIN_TOKEN));
    const body = JSON.parse(text);
    assert.equal(body.admin.token, '[redacted]');
    assert.equal(body.apis[0].name, 'shop');
  });

  test('pages through stored events newest first with a cursor, and filters them by route', async () => {
    const tag = `/orders?page-test=${Date.now()}`;
    for (let i = 0; i < 5; i++) assert.equal((await fetch(d.gw.url + tag)).status, 200);
    for (let i = 0; i < 2; i++) await (await fetch(`${d.gw.url}/users/${i + 1}`)).arrayBuffer();
    await d.monitor.events.flush();
    const all = await (await adminFetch(d, '/api/events?limit=1000')).json();
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const page = await (
        await adminFetch(d, `/api/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      assert.ok(page.events.length <= 3);
      seen.push(...page.events.map((e: Record<string, string>) => e['event.id']));
      cursor = page.nextCursor;
      pages++;
    }
    assert.deepEqual(
      seen,
      all.events.map((e: Record<string, string>) => e['event.id']),
    );
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(pages >= 3);
    const times = all.events.map((e: Record<string, string>) => Date.parse(e['@timestamp']));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
    const users = await (
      await adminFetch(d, `/api/events?route=${encodeURIComponent('/users/{userId}')}`)
    ).json();
    assert.equal(users.events.length, 2);
    assert.ok(users.events.every((e: Record<string, string>) => e['http.route'] === '/users/{userId}'));
  });

  test('rejects a page size outside 1..1000 and a forged cursor with 400 problems', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'cursor=not-a-cursor']) {
      const res = await adminFetch(d, `/api/events?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal((await json(res)).type, problems.badRequest.type, q);
    }
  });

  test('bans an IP, lists it, lifts it, and answers 404 when lifting it again', async () => {
    const created = await adminFetch(d, '/api/bans', {
      method: 'POST',
      body: { kind: 'ip', value: '198.51.100.23', ttlSeconds: 600, reason: 'api test' },
    });
    assert.equal(created.status, 201);
    const { ban } = await created.json();
    assert.equal(ban.value, '198.51.100.23');
    const ttl = Date.parse(ban.expiresAt) - Date.parse(ban.createdAt);
    assert.equal(ttl, 600_000);
    const listed = await (await adminFetch(d, '/api/bans')).json();
    assert.deepEqual(
      listed.bans.map((b: { kind: string; value: string; reason: string }) => [b.kind, b.value, b.reason]),
      [['ip', '198.51.100.23', 'api test']],
    );
    assert.equal((await adminFetch(d, '/api/bans/ip/198.51.100.23', { method: 'DELETE' })).status, 204);
    assert.equal((await (await adminFetch(d, '/api/bans')).json()).bans.length, 0);
    const again = await adminFetch(d, '/api/bans/ip/198.51.100.23', { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.equal((await json(again)).type, problems.resourceNotFound.type);
  });

  test('rejects a ban with a malformed IP, an unknown kind, a zero TTL or a raw token with 400', async () => {
    for (const body of [
      { kind: 'ip', value: '999.1.1.1', ttlSeconds: 60 },
      { kind: 'planet', value: 'mars', ttlSeconds: 60 },
      { kind: 'ip', value: '192.0.2.1', ttlSeconds: 0 },
      { kind: 'consumer', value: 'has space', ttlSeconds: 60 },
      { kind: 'token', value: 'Bearer-eyJhbGciOi-a-real-token', ttlSeconds: 60 },
    ]) {
      const res = await adminFetch(d, '/api/bans', { method: 'POST', body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    const text = await adminFetch(d, '/api/bans', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(text.status, 415);
  });

  test('lists declared operations with their traffic, and undeclared paths as shadow endpoints', async () => {
    const post = await fetch(`${d.gw.url}/orders`, { method: 'POST', headers: { 'x-api-key': ALICE.key } });
    assert.equal(post.status, 200);
    await post.arrayBuffer();
    for (const id of [17, 18, 19])
      assert.equal((await fetch(`${d.gw.url}/internal/debug/${id}`)).status, 404);
    const inv = await (await adminFetch(d, '/api/inventory')).json();
    const create = inv.operations.find((o: { operationId: string }) => o.operationId === 'createOrder');
    assert.equal(create.method, 'POST');
    assert.equal(create.path, '/orders');
    assert.ok(create.traffic.requests >= 1);
    assert.ok(create.policies.includes('ban'));
    assert.deepEqual(create.policyConfig.ban, { cacheMs: 0 });
    const shadow = inv.shadow.find((s: { path: string }) => s.path === '/internal/debug/{id}');
    assert.deepEqual([shadow.method, shadow.count], ['GET', 3]);
  });

  test('lists API-key consumers with roles, key fingerprints and their traffic, never the key or its hash', async () => {
    const ok = await fetch(`${d.gw.url}/orders`, { method: 'POST', headers: { 'x-api-key': ALICE.key } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const wrong = await fetch(`${d.gw.url}/orders`, {
      method: 'POST',
      headers: { 'x-api-key': 'pck_wrong' },
    });
    assert.equal(wrong.status, 401);
    await wrong.arrayBuffer();
    const res = await adminFetch(d, '/api/consumers');
    const text = await res.text();
    const hex = ALICE.hash.slice('sha256:'.length);
    assert.ok(!text.includes(ALICE.key) && !text.includes(hex));
    const [alice] = JSON.parse(text).consumers;
    assert.deepEqual(
      { ...alice, traffic: undefined },
      {
        name: 'alice-app',
        api: 'shop',
        scheme: 'keyAuth',
        type: 'apiKey',
        roles: ['writer'],
        keyFingerprints: [hex.slice(0, 12)],
        traffic: undefined,
      },
    );
    assert.ok(alice.traffic.requests >= 1);
    const config = await (await adminFetch(d, '/api/config')).text();
    assert.ok(!config.includes(hex));
  });

  test('reports per-second traffic, status classes and decisions in /api/stats', async () => {
    const before = (await (await adminFetch(d, '/api/stats')).json()).totals.requests;
    for (let i = 0; i < 4; i++) await (await fetch(`${d.gw.url}/orders`)).arrayBuffer();
    await (await fetch(`${d.gw.url}/nowhere`)).arrayBuffer();
    // The series ends at the last complete second: wait for this one to end.
    await new Promise((r) => setTimeout(r, 1020 - (Date.now() % 1000)));
    const stats = await (await adminFetch(d, '/api/stats?seconds=60')).json();
    assert.equal(stats.totals.requests - before, 5);
    assert.ok(stats.series.length >= 1 && stats.series.length <= 60);
    const inSeries = stats.series.reduce((n: number, p: { requests: number }) => n + p.requests, 0);
    assert.ok(inSeries >= 5);
    assert.ok(stats.decisions.allow >= 4);
    assert.ok(stats.decisions.undeclared_route >= 1);
    assert.ok(stats.offenders.some((o: { ip: string }) => o.ip === '127.0.0.1'));
  });

  test('delivers a live access event over Server-Sent Events', async () => {
    const path = `/orders?live=${Date.now()}`;
    const got = readStream(`${d.gw.adminUrl}/api/stream`, (type, data) => {
      return type === 'access' && (data as Record<string, string>)['url.path'] === '/orders';
    });
    // The stream subscribes as soon as the headers are out; give it a moment, then send traffic until seen.
    let done = false;
    got.finally(() => {
      done = true;
    });
    while (!done) {
      await (await fetch(d.gw.url + path)).arrayBuffer();
      await new Promise((r) => setTimeout(r, 50));
    }
    const { data } = await got;
    assert.equal((data as Record<string, number>)['http.response.status_code'], 200);
    assert.equal((data as Record<string, string>)['portcullis.operation_id'], 'listOrders');
  });

  test('reloads the config, and answers 422 with the problems when the new config is broken', async () => {
    const ok = await adminFetch(d, '/api/reload', { method: 'POST' });
    assert.equal(ok.status, 200);
    d.setReloadConfig({
      admin: { token: ADMIN_TOKEN },
      apis: [{ name: 'shop', spec: 'missing.yaml', upstream: { url: d.upstream.url } }],
    });
    const bad = await adminFetch(d, '/api/reload', { method: 'POST' });
    assert.equal(bad.status, 422);
    const body = await bad.json();
    assert.equal(body.type, problems.configRejected.type);
    assert.ok(body.errors.some((e: string) => e.includes('missing.yaml')));
    assert.equal((await fetch(`${d.gw.url}/orders`)).status, 200);
  });

  test('exports the number of live-stream clients on /metrics', async () => {
    const text = await (await fetch(`${d.gw.adminUrl}/metrics`)).text();
    assert.match(text, /^portcullis_admin_live_clients \d+$/m);
    assert.match(text, /^portcullis_admin_live_dropped_clients 0$/m);
  });

  test('answers 405 for a wrong method and 404 for an unknown API path', async () => {
    assert.equal((await adminFetch(d, '/api/status', { method: 'DELETE' })).status, 405);
    assert.equal((await adminFetch(d, '/api/nothing')).status, 404);
  });
});
