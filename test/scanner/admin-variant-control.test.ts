import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A reporting service in a Laravel style (`/api/auth/register`, `/api/auth/login` → `{"access_token"}`): the
 * seeded members alice and bob are viewers, the admin is `admin`, and names are compared exactly (`Admin` is
 * another account). Every self-service sign-up starts a trial plan that includes the reports
 * (`GET /api/admin/reports`, refused to viewers with 403). So an account registered as `Admin` reads the
 * reports for its plan, not for its name: the API5 admin-name variant must see it on the scan's own ordinary
 * name and report nothing. Twin: no trial plan (sign-ups are viewers); nothing to report either.
 */
const creds = { type: 'object', properties: { username: { type: 'string' }, password: { type: 'string' } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reports', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: { required: true, content: { 'application/json': { schema: creds } } },
        responses: { '201': { description: 'ok' } },
      },
    },
    '/api/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: { required: true, content: { 'application/json': { schema: creds } } },
        responses: { '200': { description: 'ok' } },
      },
    },
    '/api/admin/reports': { get: { operationId: 'reports', responses: { '200': { description: 'ok' } } } },
  },
};

async function startReports(noTrial: boolean): Promise<{ url: string; server: Server }> {
  const users = new Map<string, { password: string; role: string }>([
    ['alice', { password: 'alice-pw-5', role: 'viewer' }],
    ['bob', { password: 'bob-pw-6', role: 'viewer' }],
    ['admin', { password: 'admin-pw-0', role: 'admin' }],
  ]);
  const sessions = new Map<string, string>();
  const s = await startServer((req, res) => {
    const json = (status: number, b: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      let b: Record<string, unknown> = {};
      try {
        b = JSON.parse(raw || '{}');
      } catch {
        return json(400, { message: 'bad json' });
      }
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/api/auth/register') {
        const name = b.username;
        if (typeof name !== 'string' || typeof b.password !== 'string' || name === '')
          return json(422, { message: 'The username field is required.' });
        if (users.has(name)) return json(422, { message: 'The username has already been taken.' });
        users.set(name, { password: b.password, role: noTrial ? 'viewer' : 'trial' });
        return json(201, { username: name });
      }
      if (req.method === 'POST' && path === '/api/auth/login') {
        const u = users.get(String(b.username));
        if (!u || u.password !== b.password) return json(401, { message: 'Unauthenticated.' });
        const token = randomBytes(16).toString('hex');
        sessions.set(token, String(b.username));
        return json(200, { access_token: token, token_type: 'bearer' });
      }
      const me = users.get(sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? '');
      if (!me) return json(401, { message: 'Unauthenticated.' });
      if (req.method === 'GET' && path === '/api/admin/reports') {
        if (me.role === 'viewer') return json(403, { message: 'This action is unauthorized.' });
        return json(200, {
          data: [
            { id: 1, title: 'Q3 revenue', total: 48210 },
            { id: 2, title: 'Q4 revenue', total: 51377 },
          ],
        });
      }
      return json(404, { message: 'Not Found' });
    });
  });
  return { url: s.url, server: s.server };
}

const identity = (name: string, password: string) => ({
  name,
  login: { path: '/api/auth/login', body: { username: name, password } },
});

describe('API5 admin-name variant: the control account of an ordinary name', () => {
  let scans: TwinScans<{ url: string; server: Server }>;
  before(async () => {
    scans = await scanTwins(SPEC, startReports, {
      identities: [identity('alice', 'alice-pw-5'), identity('bob', 'bob-pw-6')],
      admin: identity('admin', 'admin-pw-0'),
      checks: ['API5'],
      ratePerSecond: 200,
    });
  });

  test('a sign-up whose plan includes the admin read is no admin-name finding', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].result.findings.filter((f) => /another case/.test(f.message)).map((f) => f.message),
        [],
        kind,
      );
  });
});
