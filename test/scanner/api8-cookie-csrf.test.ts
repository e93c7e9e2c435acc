import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanDocument, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A cookie-session API that takes state changes with the cookie alone: no anti-forgery token, form-encoded bodies a
 * page on any site can post, and a session cookie set without SameSite. The scan's own traffic shows it (its
 * creations and actions went with the cookie and no token, and were made); R1 saw such traffic in session 14 and no
 * finding came of it.
 *
 * Style: an Express-session-like community garden, form bodies (`application/x-www-form-urlencoded`), `garden.sid`
 * cookie from `POST /session` (a form login), 201 for creations, `{"error": ...}` bodies. The fixed twin sets the
 * cookie with `SameSite=Lax` (a cross-site POST carries no cookie), which is the whole fix; everything else alike.
 */
const form = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties, required } } },
});
const cookie = [{ sid: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'community garden', version: '1.0' },
  components: { securitySchemes: { sid: { type: 'apiKey', in: 'cookie', name: 'garden.sid' } } },
  paths: {
    '/session': {
      post: {
        operationId: 'signIn',
        requestBody: form({ username: { type: 'string' }, password: { type: 'string' } }, [
          'username',
          'password',
        ]),
        responses: { '200': { description: 'signed in' }, '401': { description: 'refused' } },
      },
    },
    '/plots': {
      get: {
        operationId: 'listPlots',
        security: cookie,
        responses: { '200': { description: 'your plots' } },
      },
      post: {
        operationId: 'claimPlot',
        security: cookie,
        requestBody: form(
          { bed: { type: 'string', example: 'north-3' }, crop: { type: 'string', example: 'leeks' } },
          ['bed'],
        ),
        responses: { '201': { description: 'claimed' }, '400': { description: 'bad input' } },
      },
    },
    '/plots/{plot_id}': {
      get: {
        operationId: 'getPlot',
        security: cookie,
        parameters: [{ name: 'plot_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a plot' }, '404': { description: 'none' } },
      },
    },
    '/plots/{plot_id}/water': {
      post: {
        operationId: 'waterPlot',
        security: cookie,
        parameters: [{ name: 'plot_id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: form({ litres: { type: 'integer', example: 4 } }, ['litres']),
        responses: { '200': { description: 'watered' }, '404': { description: 'none' } },
      },
    },
  },
};

const GARDENERS = [
  { username: 'rowan', password: 'rowan-garden-81' },
  { username: 'hazel', password: 'hazel-garden-81' },
];

interface Plot {
  id: number;
  owner: string;
  bed: string;
  crop: string;
  litres: number;
}

function startGarden(fixed: boolean): Promise<TwinTarget> {
  const sessions = new Map<string, string>();
  const plots: Plot[] = [{ id: 1, owner: 'rowan', bed: 'south-1', crop: 'beans', litres: 0 }];
  return startServer(async (req, res) => {
    const b = Object.fromEntries(new URLSearchParams(await readText(req)));
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) =>
      sendJson(res, status, payload, { 'content-type': 'application/json', ...headers });
    if (req.method === 'POST' && url.pathname === '/session') {
      const g = GARDENERS.find((x) => x.username === b.username && x.password === b.password);
      if (!g) return send(401, { error: 'wrong username or password' });
      const sid = randomBytes(18).toString('hex');
      sessions.set(sid, g.username);
      return send(
        200,
        { ok: true, username: g.username },
        { 'set-cookie': `garden.sid=${sid}; Path=/; HttpOnly${fixed ? '; SameSite=Lax' : ''}` },
      );
    }
    const sid = /(?:^|;\s*)garden\.sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const me = sid ? sessions.get(sid) : undefined;
    if (!me) return send(401, { error: 'sign in first' });
    const mine = plots.filter((p) => p.owner === me);
    if (req.method === 'GET' && url.pathname === '/plots') return send(200, { plots: mine });
    if (req.method === 'POST' && url.pathname === '/plots') {
      if (!b.bed || plots.length > 200) return send(400, { error: 'bed is required' });
      const p: Plot = { id: plots.length + 1, owner: me, bed: b.bed, crop: b.crop ?? '', litres: 0 };
      plots.push(p);
      return send(201, { id: p.id, bed: p.bed, crop: p.crop });
    }
    const at = /^\/plots\/(\d+)(\/water)?$/.exec(url.pathname);
    const plot = at ? mine.find((p) => p.id === Number(at[1])) : undefined;
    if (!at || !plot) return send(404, { error: 'no such plot' });
    if (req.method === 'GET' && !at[2]) return send(200, plot);
    if (req.method === 'POST' && at[2]) {
      plot.litres += Number(b.litres) || 0;
      return send(200, { id: plot.id, litres: plot.litres });
    }
    return send(404, { error: 'no such route' });
  });
}

const csrf = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api8-csrf')
    .map((f) => `${f.operation?.operationId}: ${f.message}`);

describe('state changes a cookie session takes without an anti-forgery token', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startGarden, {
      identities: GARDENERS.map((g) => ({
        name: g.username,
        login: { path: '/session', body: g, encoding: 'form' as const },
      })),
      checks: ['API8'],
      ratePerSecond: 200,
    });
  });

  test("vulnerable: one finding, on a change the scan's own traffic made with the cookie alone", () => {
    const found = csrf(runs.vulnerable.result);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.match(found[0], /^(claimPlot|waterPlot): /);
    assert.match(found[0], /garden\.sid/);
    assert.match(found[0], /SameSite/);
  });

  test('fixed (SameSite=Lax): no CSRF finding', () => {
    assert.deepEqual(csrf(runs.fixed.result), []);
  });
});

/**
 * The same with JSON bodies: a cross-site form cannot send `application/json`, but it can send the same text as
 * `text/plain`. The vulnerable twin (a hand-written node:http server) parses any body as JSON whatever its type; the
 * fixed twin takes `application/json` only (415 otherwise). Both set the `tab` cookie without SameSite. The scan
 * sends one creation again as text/plain and deletes what that made.
 */
const JSON_SPEC = {
  openapi: '3.0.3',
  info: { title: 'bar tabs', version: '0.9' },
  components: { securitySchemes: { tab: { type: 'apiKey', in: 'cookie', name: 'tab' } } },
  paths: {
    '/auth/session': {
      post: {
        operationId: 'startSession',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, passcode: { type: 'string' } },
                required: ['handle', 'passcode'],
              },
            },
          },
        },
        responses: { '200': { description: 'a session' } },
      },
    },
    '/tabs': {
      get: {
        operationId: 'listTabs',
        security: [{ tab: [] }],
        responses: { '200': { description: 'tabs' } },
      },
      post: {
        operationId: 'openTab',
        security: [{ tab: [] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { table: { type: 'integer', example: 4 } },
                required: ['table'],
              },
            },
          },
        },
        responses: { '201': { description: 'opened' }, '415': { description: 'JSON only' } },
      },
    },
    '/tabs/{tab_id}': {
      delete: {
        operationId: 'closeTab',
        security: [{ tab: [] }],
        parameters: [{ name: 'tab_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '204': { description: 'closed' } },
      },
    },
  },
};
const REGULARS = [
  { handle: 'juniper', passcode: 'juniper-tab-93' },
  { handle: 'cassia', passcode: 'cassia-tab-93' },
];
type Bar = TwinTarget & { tabs: { id: number; owner: string; table: number }[] };

function startBar(fixed: boolean): Promise<Bar> {
  const sessions = new Map<string, string>();
  const tabs: { id: number; owner: string; table: number }[] = [];
  let next = 1;
  return startServer(async (req, res) => {
    const text = await readText(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) =>
      sendJson(res, status, payload, { 'content-type': 'application/json', ...headers });
    if (req.method === 'POST' && fixed && !/^application\/json/.test(req.headers['content-type'] ?? ''))
      return send(415, { error: 'send application/json' });
    let b: Record<string, unknown> = {};
    try {
      b = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { error: 'bad JSON' });
    }
    if (req.method === 'POST' && url.pathname === '/auth/session') {
      const r = REGULARS.find((x) => x.handle === b.handle && x.passcode === b.passcode);
      if (!r) return send(401, { error: 'unknown regular' });
      const sid = randomBytes(16).toString('hex');
      sessions.set(sid, r.handle);
      return send(200, { ok: true }, { 'set-cookie': `tab=${sid}; Path=/; HttpOnly` });
    }
    const sid = /(?:^|;\s*)tab=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const me = sid ? sessions.get(sid) : undefined;
    if (!me) return send(401, { error: 'no session' });
    if (req.method === 'GET' && url.pathname === '/tabs')
      return send(
        200,
        tabs.filter((t) => t.owner === me),
      );
    if (req.method === 'POST' && url.pathname === '/tabs') {
      if (typeof b.table !== 'number' || tabs.length > 100) return send(400, { error: 'table is required' });
      const t = { id: next++, owner: me, table: b.table };
      tabs.push(t);
      return send(201, t);
    }
    const at = /^\/tabs\/(\d+)$/.exec(url.pathname);
    const i = at ? tabs.findIndex((t) => t.id === Number(at[1]) && t.owner === me) : -1;
    if (req.method === 'DELETE' && i >= 0) {
      tabs.splice(i, 1);
      res.writeHead(204);
      return res.end();
    }
    return send(404, { error: 'no such tab' });
  }).then((api) => Object.assign(api, { tabs }));
}

describe('a JSON API that takes the same body as text/plain with the cookie alone', () => {
  let runs: TwinScans<Bar>;
  before(async () => {
    runs = await scanTwins(JSON_SPEC, startBar, {
      identities: REGULARS.map((r) => ({ name: r.handle, login: { path: '/auth/session', body: r } })),
      checks: ['API8'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: the text/plain creation is the finding', () => {
    const found = csrf(runs.vulnerable.result);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.match(found[0], /^openTab: .*tab.*text\/plain/);
  });

  test('fixed (JSON only): no CSRF finding', () => {
    assert.deepEqual(csrf(runs.fixed.result), []);
  });

  test("what the probe made in the given identities' names is deleted", () => {
    assert.deepEqual(runs.vulnerable.api.tabs, []);
  });
});

describe('no POST changed state with the session cookie alone', () => {
  test('the rule is said untested, and not counted among the rules checked', async () => {
    const readsOnly = {
      ...SPEC,
      paths: { '/session': SPEC.paths['/session'], '/plots': { get: SPEC.paths['/plots'].get } },
    };
    const api = await startGarden(false);
    try {
      const result = await scanDocument(readsOnly, api.url, {
        identities: GARDENERS.map((g) => ({
          name: g.username,
          login: { path: '/session', body: g, encoding: 'form' as const },
        })),
        checks: ['API8'],
        ratePerSecond: 200,
      });
      assert.deepEqual(csrf(result), []);
      assert.ok(
        result.warnings.some((w) =>
          /^scan\/api8-csrf was not tested: no POST changed state with the session cookie alone/.test(w),
        ),
        result.warnings.join('\n'),
      );
      assert.ok(!result.rules.some((r) => r.id === 'scan/api8-csrf'));
    } finally {
      api.server.close();
    }
  });
});
