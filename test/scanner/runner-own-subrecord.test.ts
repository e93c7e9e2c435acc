import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { findingOn, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A language-exchange API in Spring's style (`{timestamp, status, error, path}` errors, `Authorization: Bearer` from
 * `POST /v1/auth/login`, sign-up `POST /v1/auth/register`). A member changes its password at `PUT /v1/me/password
 * {currentPassword, newPassword}`, under its own record, with no path parameter.
 *
 * Vulnerable twin: the current password is not checked. Fixed twin: a wrong or missing one is refused (403). Review
 * R1-7: the runner held back every write of the scan's own registered account there (its own-profile rule covered
 * `/me`, not `/me/password`), and the coverage said "no request of this check applies".
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const credentials = json({ username: { type: 'string' }, password: { type: 'string' } }, [
  'username',
  'password',
]);
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tandem', version: '2.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v1/auth/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: credentials,
        responses: { '201': { description: 'ok' } },
      },
    },
    '/v1/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: credentials,
        responses: { '200': { description: 'token' } },
      },
    },
    '/v1/me': { get: { operationId: 'me', responses: { '200': { description: 'the member' } } } },
    '/v1/me/password': {
      put: {
        operationId: 'changePassword',
        requestBody: json({ currentPassword: { type: 'string' }, newPassword: { type: 'string' } }, [
          'newPassword',
        ]),
        responses: { '204': { description: 'changed' }, '403': { description: 'wrong current password' } },
      },
    },
  },
};

const MEMBERS: Record<string, string> = { yuki: 'Yuki-tandem-3371', noah: 'Noah-tandem-8812' };

interface Tandem extends TwinTarget {
  readonly passwords: Map<string, string>;
}

function startTandem(fixed: boolean): Promise<Tandem> {
  const passwords = new Map(Object.entries(MEMBERS));
  const tokens = new Map<string, string>();
  const error = (res: ServerResponse, status: number, text: string, path: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ timestamp: new Date(0).toISOString(), status, error: text, path }));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' || req.method === 'PUT' ? ((await readJson(req)) ?? {}) : {};
    if (req.method !== 'POST' && req.method !== 'PUT') req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'POST' && path === '/v1/auth/register') {
      const name = String(body.username ?? '');
      if (!/^\w{3,40}$/.test(name) || typeof body.password !== 'string' || body.password.length < 8)
        return error(res, 400, 'Bad Request', path);
      if (passwords.has(name)) return error(res, 409, 'Conflict', path);
      passwords.set(name, body.password);
      res.writeHead(201, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ username: name }));
    }
    if (req.method === 'POST' && path === '/v1/auth/login') {
      const name = String(body.username ?? '');
      if (passwords.get(name) !== body.password) return error(res, 401, 'Unauthorized', path);
      const token = randomBytes(16).toString('hex');
      tokens.set(token, name);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ accessToken: token, tokenType: 'Bearer' }));
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return error(res, 401, 'Unauthorized', path);
    if (req.method === 'GET' && path === '/v1/me') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ username: who }));
    }
    if (req.method === 'PUT' && path === '/v1/me/password') {
      if (typeof body.newPassword !== 'string' || body.newPassword.length < 8)
        return error(res, 400, 'Bad Request', path);
      if (fixed && body.currentPassword !== passwords.get(who)) return error(res, 403, 'Forbidden', path);
      passwords.set(who, body.newPassword);
      res.writeHead(204);
      return res.end();
    }
    error(res, 404, 'Not Found', path);
  };
  return startServer((req, res) => void handle(req, res).catch(() => res.destroy())).then((s) => ({
    url: s.url,
    server: s.server,
    passwords,
  }));
}

const identities = Object.entries(MEMBERS).map(([username, password]) => ({
  name: username,
  login: { path: '/v1/auth/login', body: { username, password } },
}));

describe("a password change under the scan's own record, at a path that names no object", {
  timeout: 300_000,
}, () => {
  let runs: TwinScans<Tandem>;
  before(async () => {
    runs = await scanTwins(SPEC, startTandem, { identities, checks: ['API2'] });
  });

  test("vulnerable: the change without the current password is found, on the scan's own account", () => {
    const f = findingOn(
      runs.vulnerable.result,
      'scan/api2-password-change-without-current',
      'changePassword',
    );
    assert.ok(
      f,
      JSON.stringify(
        runs.vulnerable.result.coverage.matrix.filter((c) => c.operation === 'PUT /v1/me/password'),
      ),
    );
    assert.doesNotMatch(f.message, /yuki|noah/);
  });

  test('fixed: no finding', () => {
    assert.equal(
      findingOn(runs.fixed.result, 'scan/api2-password-change-without-current', 'changePassword'),
      undefined,
    );
  });

  test("both twins: yuki's and noah's passwords as seeded", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      for (const [name, password] of Object.entries(MEMBERS))
        assert.equal(runs[kind].api.passwords.get(name), password, `${kind}: ${name}`);
  });
});
