import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Laravel-style shop API (`{"data": ...}` envelopes, 422 `{"message", "errors"}`, a route group whose auth
 * middleware answers 401 to any unauthenticated `/api/...` request, routes or not) documenting `/api/v2` only:
 * a login, `POST /api/v2/feedback`, `POST /api/v2/password/forgot {email}` (public) and `PUT /api/v2/profile`.
 *
 * Vulnerable: the v1 routes still run: `POST /api/v1/feedback` (no validation), `POST /api/v1/password/forgot`
 * (public, and it answers the reset token) and `PUT /api/v1/profile`. Fixed twin: no v1 at all.
 * Safety: no v1 request carries alice's or bob's e-mail or session, and no PUT reaches v1.
 */
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const object = (properties: Record<string, object>, required: string[]) => ({
  type: 'object',
  required,
  properties,
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shop', version: '2.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v2/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json(
          object({ email: { type: 'string', format: 'email' }, password: { type: 'string' } }, [
            'email',
            'password',
          ]),
        ),
        responses: { '200': { description: 'token' }, '422': { description: 'invalid' } },
      },
    },
    '/api/v2/feedback': {
      get: { operationId: 'listFeedback', responses: { '200': { description: 'feedback' } } },
      post: {
        operationId: 'sendFeedback',
        requestBody: json(
          object({ subject: { type: 'string', maxLength: 80 }, message: { type: 'string' } }, [
            'subject',
            'message',
          ]),
        ),
        responses: { '201': { description: 'stored' }, '422': { description: 'invalid' } },
      },
    },
    '/api/v2/password/forgot': {
      post: {
        operationId: 'forgotPassword',
        security: [],
        requestBody: json(
          object({ email: { type: 'string', format: 'email', example: 'alice@shop.test' } }, ['email']),
        ),
        responses: { '200': { description: 'a link was sent if the address is known' } },
      },
    },
    '/api/v2/profile': {
      put: {
        operationId: 'updateProfile',
        requestBody: json(object({ display_name: { type: 'string' } }, ['display_name'])),
        responses: { '200': { description: 'updated' } },
      },
    },
  },
};

const USERS = [
  { email: 'alice@shop.test', password: 'alice-pw-81', token: 't-alice', name: 'Alice' },
  { email: 'bob@shop.test', password: 'bob-pw-29', token: 't-bob', name: 'Bob' },
];

interface Seen {
  method: string;
  path: string;
  auth: string;
  body: string;
}

function startShop(fixed: boolean) {
  const v1: Seen[] = [];
  return startServer(async (req, res) => {
    const text = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    if (path.startsWith('/api/v1/'))
      v1.push({ method: req.method ?? '', path, auth: req.headers.authorization ?? '', body: text });
    let body: Record<string, unknown> = {};
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      return send(400, { message: 'Malformed JSON.' });
    }
    const invalid = (field: string) =>
      send(422, {
        message: 'The given data was invalid.',
        errors: { [field]: [`The ${field} field is required.`] },
      });
    const post = req.method === 'POST';
    if (post && path === '/api/v2/login') {
      const u = USERS.find((x) => x.email === body.email && x.password === body.password);
      return u
        ? send(200, { data: { token: u.token } })
        : send(422, { message: 'These credentials do not match our records.' });
    }
    const forgot = path === '/api/v2/password/forgot' || (!fixed && path === '/api/v1/password/forgot');
    if (post && forgot) {
      if (typeof body.email !== 'string') return invalid('email');
      const known = USERS.some((u) => u.email === body.email);
      return path.includes('/v1/')
        ? send(200, { message: 'Reset link sent.', reset_token: known ? 'r-93f1' : null })
        : send(200, { message: 'If the address is registered, a link was sent.' });
    }
    const user = USERS.find((u) => req.headers.authorization === `Bearer ${u.token}`);
    if (path.startsWith('/api/') && !user) return send(401, { message: 'Unauthenticated.' });
    if (path === '/api/v2/feedback' && req.method === 'GET') return send(200, { data: [] });
    if (post && (path === '/api/v2/feedback' || (!fixed && path === '/api/v1/feedback'))) {
      if (path.includes('/v2/') && typeof body.subject !== 'string') return invalid('subject');
      return send(201, { data: { id: 7, subject: body.subject ?? null } });
    }
    const profile = path === '/api/v2/profile' || (!fixed && path === '/api/v1/profile');
    if (req.method === 'PUT' && profile && user)
      return send(200, { data: { email: user.email, display_name: body.display_name } });
    send(404, { message: 'Not Found.' });
  }).then((api) => Object.assign(api, { v1 }));
}

const login = (u: (typeof USERS)[number]) => ({
  name: u.name.toLowerCase(),
  login: {
    path: '/api/v2/login',
    body: { email: u.email, password: u.password },
    tokenPointer: '/data/token',
  },
});

describe('API9: older versions of the documented writes', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; v1: Seen[] }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startShop, {
      identities: USERS.map(login),
      checks: ['API9'],
      ratePerSecond: 200,
    });
    runs.vulnerable = { result: scans.vulnerable.result, v1: scans.vulnerable.api.v1 };
    runs.fixed = { result: scans.fixed.result, v1: scans.fixed.api.v1 };
  });

  test('the v1 feedback and password reminder still answer: reported at the older path', () => {
    const found = runs.vulnerable.result.findings
      .filter((f) => f.rule.id === 'scan/api9-undocumented-endpoint')
      .map((f) => `${f.operation?.method} ${f.operation?.path}`)
      .sort();
    assert.deepEqual(found, ['POST /api/v1/feedback', 'POST /api/v1/password/forgot']);
    const forgot = runs.vulnerable.result.findings.find(
      (f) => f.operation?.path === '/api/v1/password/forgot',
    );
    assert.match(
      forgot?.message ?? '',
      /older version of the documented POST \/api\/v2\/password\/forgot\) answered 200 without credentials.*made-up route beside it answered 401/,
    );
  });

  test("safely: the reminder went out anonymously with an address of the scan's own, no PUT reached v1", () => {
    for (const { v1 } of [runs.vulnerable, runs.fixed]) {
      assert.ok(v1.length > 0);
      for (const r of v1) {
        assert.doesNotMatch(r.body, /alice@|bob@/, `${r.method} ${r.path}`);
        if (/password|login/.test(r.path)) assert.equal(r.auth, '', `${r.method} ${r.path}`);
        assert.notEqual(r.method, 'PUT');
      }
      const forgot = v1.find((r) => r.path === '/api/v1/password/forgot');
      assert.match(forgot?.body ?? '', /"email":"pcv[0-9a-f]{10}@example\.com"/);
    }
  });

  test('the fixed twin: no finding (its 401 to anonymous requests on any path is no route)', () => {
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });
});
