import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A members' club API (Express-like: JSON bodies, a bearer token, and the framework's HTML page "Cannot POST
 * /path" with status 404 for any route it does not have) documenting `/api/v2` only: a login, a reset code
 * request `POST /api/v2/auth/reset-password {email}` and its check `POST /api/v2/auth/reset-password/verify
 * {email, code, new_password}`, and `POST /api/v2/notes`.
 *
 * Vulnerable: the old `POST /api/v1/auth/reset-password/verify` is still routed, and takes any code. For an
 * e-mail nobody has it answers the app's own JSON 404 `{"message": "User not found"}`: the scan sends only
 * fresh addresses there, so a 404 is all it ever gets, and only the 404's look says the route is there.
 * Fixed twin: the old route is removed (the framework's 404 like any made-up route).
 */
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const object = (properties: Record<string, object>, required: string[]) => ({
  type: 'object',
  required,
  properties,
});
const email = { type: 'string', format: 'email' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'club', version: '2.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v2/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json(object({ email, password: { type: 'string' } }, ['email', 'password'])),
        responses: { '200': { description: 'token' }, '401': { description: 'wrong' } },
      },
    },
    '/api/v2/auth/reset-password': {
      post: {
        operationId: 'requestReset',
        security: [],
        requestBody: json(object({ email }, ['email'])),
        responses: { '200': { description: 'a code was sent if the address is known' } },
      },
    },
    '/api/v2/auth/reset-password/verify': {
      post: {
        operationId: 'verifyReset',
        security: [],
        requestBody: json(
          object(
            { email, code: { type: 'string', pattern: '^[0-9]{6}$' }, new_password: { type: 'string' } },
            ['email', 'code', 'new_password'],
          ),
        ),
        responses: {
          '200': { description: 'password changed' },
          '400': { description: 'wrong code' },
          '404': { description: 'no such user' },
        },
      },
    },
    '/api/v2/notes': {
      get: { operationId: 'listNotes', responses: { '200': { description: 'notes' } } },
      post: {
        operationId: 'addNote',
        requestBody: json(object({ text: { type: 'string', maxLength: 200 } }, ['text'])),
        responses: { '201': { description: 'stored' } },
      },
    },
  },
};

const USERS = [
  { email: 'alice@club.test', password: 'alice-pw-42', token: 't-alice' },
  { email: 'bob@club.test', password: 'bob-pw-17', token: 't-bob' },
];

function startClub(fixed: boolean) {
  const passwords = new Map(USERS.map((u) => [u.email, u.password]));
  const codes = new Map<string, string>();
  return startServer(async (req, res) => {
    const text = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, { 'content-type': 'application/json; charset=utf-8' });
    const noRoute = () => {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', 'x-content-type-options': 'nosniff' });
      res.end(
        `<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Error</title></head>\n<body><pre>Cannot ${req.method} ${path}</pre></body>\n</html>\n`,
      );
    };
    let body: Record<string, unknown> = {};
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      return send(400, { message: 'invalid JSON' });
    }
    const post = req.method === 'POST';
    if (post && path === '/api/v2/auth/login') {
      const u = USERS.find((x) => x.email === body.email && passwords.get(x.email) === body.password);
      return u ? send(200, { token: u.token }) : send(401, { message: 'Invalid credentials' });
    }
    if (post && path === '/api/v2/auth/reset-password') {
      if (typeof body.email === 'string' && passwords.has(body.email)) codes.set(body.email, '493817');
      return send(200, { message: 'If the address is registered, a code was sent.' });
    }
    const oldVerify = !fixed && path === '/api/v1/auth/reset-password/verify';
    if (post && (path === '/api/v2/auth/reset-password/verify' || oldVerify)) {
      if (typeof body.email !== 'string' || typeof body.new_password !== 'string')
        return send(400, { message: 'email and new_password are required' });
      if (!passwords.has(body.email)) return send(404, { message: 'User not found' });
      // The old route never checked the code.
      if (!oldVerify && codes.get(body.email) !== body.code) return send(400, { message: 'Invalid code' });
      passwords.set(body.email, body.new_password);
      return send(200, { message: 'Password changed' });
    }
    const user = USERS.find((u) => req.headers.authorization === `Bearer ${u.token}`);
    if (path === '/api/v2/notes') {
      if (!user) return send(401, { message: 'Unauthorized' });
      if (req.method === 'GET') return send(200, []);
      if (post) return send(201, { id: 1, text: body.text });
    }
    noRoute();
  }).then((api) => Object.assign(api, { passwords }));
}

const identities = USERS.map((u) => ({
  name: u.email.split('@')[0],
  login: {
    path: '/api/v2/auth/login',
    body: { email: u.email, password: u.password },
    tokenPointer: '/token',
  },
}));

describe("API9: an older route known by its own 404 (a value it does not know), not the framework's", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClub>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startClub, { identities, checks: ['API9'], ratePerSecond: 200 }),
    );
  });

  test('the old verify route is reported at its path; its 404 and the made-up routes are named', () => {
    const found = scans.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api9-undocumented-endpoint',
    );
    assert.deepEqual(
      found.map((f) => `${f.operation?.method} ${f.operation?.path}`),
      ['POST /api/v1/auth/reset-password/verify'],
    );
    assert.match(
      found[0].message,
      /answered 404 without credentials with an answer of its own \(application\/json \{"message":"User not found"\}\).*two made-up routes beside it answered 404 alike \(text\/html <!DOCTYPE/,
    );
  });

  test("safely: no account's password changed on either twin", () => {
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      for (const u of USERS) assert.equal(api.passwords.get(u.email), u.password, u.email);
    }
  });

  test('the fixed twin (old route removed): nothing', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
