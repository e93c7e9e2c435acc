import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readText, sendJson } from './small-api.ts';
import { scanDocument, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A portal behind a router that picks the deployment by a header: without `X-Api-Mode: legacy` every route
 * answers `404 {"detail": "Not Found"}`, whoever asks. The caller is named by `X-User-ID` (1 alice, 2 bob,
 * 3 root, the admin). `GET /orders` lists the caller's orders; the vulnerable twin lists every order to a
 * caller without `X-User-ID` (the fixed twin answers 401). `GET /internal/config` shows the same public
 * settings to anyone, anonymous callers included: no function of the admin's. `POST /login` signs in by user
 * name and password (for the scan with login identities and a configured header).
 *
 * The identities give `X-Api-Mode: legacy` beside their `X-User-ID`, as a user configures a scan of such a
 * deployment; the scan must send it with every request, anonymous ones and logins included.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'portal', version: '2.0.0' },
  components: { securitySchemes: { user: { type: 'apiKey', in: 'header', name: 'X-User-ID' } } },
  security: [{ user: [] }],
  paths: {
    '/orders': {
      get: { operationId: 'listOrders', responses: { '200': { description: "the caller's orders" } } },
    },
    '/internal/config': {
      get: {
        operationId: 'internalConfig',
        security: [],
        responses: { '200': { description: 'public settings' } },
      },
    },
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'wrong credentials' } },
      },
    },
  },
};

const USERS: Record<string, { name: string; password: string }> = {
  '1': { name: 'alice', password: 'alice-pw-4471' },
  '2': { name: 'bob', password: 'bob-pw-9032' },
  '3': { name: 'root', password: 'root-pw-1180' },
};
const ORDERS = [
  { id: 101, owner: '1', item: 'lamp', total: 40 },
  { id: 102, owner: '2', item: 'desk', total: 310 },
];

interface Portal extends TwinTarget {
  /** `METHOD path` of every request that came without the mode header. */
  readonly ungated: string[];
  /** User names of the logins that reached the portal (past the router). */
  readonly logins: string[];
}

async function startPortal(fixed: boolean): Promise<Portal> {
  const ungated: string[] = [];
  const logins: string[] = [];
  const tokens = new Map<string, string>();
  const server = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload, GUARDED_JSON);
    const path = (req.url ?? '/').split('?')[0];
    if (req.headers['x-api-mode'] !== 'legacy') {
      if (ungated.length < 1000) ungated.push(`${req.method} ${path}`);
      return send(404, { detail: 'Not Found' });
    }
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const caller = bearer
      ? tokens.get(bearer)
      : USERS[String(req.headers['x-user-id'] ?? '')] && String(req.headers['x-user-id']);
    if (req.method === 'POST' && path === '/login') {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return send(400, { detail: 'bad json' });
      }
      if (logins.length < 1000) logins.push(String(body.username));
      const id = Object.keys(USERS).find(
        (k) => USERS[k].name === body.username && USERS[k].password === body.password,
      );
      if (!id) return send(401, { detail: 'wrong user name or password' });
      const token = `tk-${id}-${Math.random().toString(36).slice(2, 12)}`;
      if (tokens.size < 1000) tokens.set(token, id);
      return send(200, { access_token: token, token_type: 'bearer' });
    }
    if (req.method !== 'GET') return send(405, { detail: 'Method Not Allowed' });
    if (path === '/internal/config')
      return send(200, { region: 'eu-1', features: { beta: false }, page_size: 20 });
    if (path === '/orders') {
      if (!caller && fixed) return send(401, { detail: 'who are you?' });
      return send(
        200,
        ORDERS.filter((o) => !caller || caller === '3' || o.owner === caller),
      );
    }
    return send(404, { detail: 'Not Found' });
  });
  return { url: server.url, server: server.server, ungated, logins };
}

const found = (r: ScanResult, rule: string, op: string) =>
  r.findings.filter((f) => f.rule.id === rule && f.operation?.operationId === op);

describe('headers every identity gives alike go with every request, anonymous ones too', () => {
  let scans: TwinScans<Portal>;
  before(async () => {
    scans = await scanTwins(SPEC, startPortal, {
      identities: [
        { name: 'alice', headers: { 'X-User-ID': '1', 'X-Api-Mode': 'legacy' } },
        { name: 'bob', headers: { 'X-User-ID': '2', 'X-Api-Mode': 'legacy' } },
      ],
      admin: { name: 'root', headers: { 'X-User-ID': '3', 'X-Api-Mode': 'legacy' } },
      checks: ['API2', 'API5'],
      ratePerSecond: 200,
    });
  });

  test('no request reached the router without the mode header (both twins)', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.deepEqual(scans[kind].api.ungated, [], kind);
      assert.ok(scans[kind].api.logins.length > 0, `${kind}: the login checks reached the portal`);
    }
  });

  test('the report says which header it took as shared, and the identity header stays a credential', () => {
    const notes = scans.vulnerable.result.notes.join('\n');
    assert.match(
      notes,
      /every request, anonymous ones included, as every identity gives it alike: x-api-mode/,
    );
    assert.doesNotMatch(notes, /alike: [^\n]*x-user-id/);
  });

  test('the anonymous list of orders is reached: found on the vulnerable twin, not on the fixed one', () => {
    assert.equal(found(scans.vulnerable.result, 'scan/api2-no-credentials', 'listOrders').length, 1);
    assert.deepEqual(found(scans.fixed.result, 'scan/api2-no-credentials', 'listOrders'), []);
  });

  test('settings anyone reads are no function of the admin: no API5 finding on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.deepEqual(
        found(scans[kind].result, 'scan/api5-bfla', 'internalConfig').map((f) => f.message),
        [],
        kind,
      );
    }
  });
});

describe('configured headers go with the logins and the login checks', () => {
  let result: ScanResult;
  let portal: Portal;
  before(async () => {
    portal = await startPortal(true);
    try {
      result = await scanDocument(SPEC, portal.url, {
        identities: [
          {
            name: 'alice',
            login: { path: '/login', body: { username: 'alice', password: 'alice-pw-4471' } },
          },
          { name: 'bob', login: { path: '/login', body: { username: 'bob', password: 'bob-pw-9032' } } },
        ],
        headers: { 'X-Api-Mode': 'legacy' },
        checks: ['API2'],
        ratePerSecond: 200,
      });
    } finally {
      portal.server.close();
    }
  });

  test('the identities signed in and every request carried the header', () => {
    assert.ok(result.stats.requests > 0);
    assert.deepEqual(portal.ungated, []);
  });

  test('the login checks reached the portal with made-up user names', () => {
    const others = portal.logins.filter((n) => n !== 'alice' && n !== 'bob');
    assert.ok(others.length > 0, portal.logins.join(', '));
  });
});
