import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A throwaway account's ids are checked before its item paths count as the scan's own. A Rails-style guild
 * API with JWT-like bearer tokens carrying the guild every member shares (`account_id: 1`, also the first
 * member's user id) and the member's `user_id`. `GET /guild/users/{id}` ignores the id and shows the caller;
 * `PUT` and `DELETE /guild/users/{id}` act on the id named. Before the check, V's read at `/guild/users/1`
 * showed V, so `/guild/users/1` (hana's record) became a scan-created object that every check could write.
 */
const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const id = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
const ok = { '200': { description: 'ok' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'guild', version: '1' },
  components: { securitySchemes: { b: { type: 'http', scheme: 'bearer' } } },
  security: [{ b: [] }],
  paths: {
    '/guild/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '201': { description: 'created' } },
      },
    },
    '/guild/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: ok,
      },
    },
    '/guild/users/{id}': {
      get: { operationId: 'member', parameters: [id], responses: ok },
      put: {
        operationId: 'editMember',
        parameters: [id],
        requestBody: json({ bio: { type: 'string' } }),
        responses: ok,
      },
      delete: { operationId: 'removeMember', parameters: [id], responses: ok },
    },
  },
};

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe("a read that ignores the id does not make a given identity's record the scan's", () => {
  const users = new Map<number, { id: number; username: string; password: string; bio: string }>();
  const touched: string[] = [];
  before(async () => {
    users.set(1, { id: 1, username: 'hana', password: 'hana-pw-21', bio: 'founder' });
    users.set(2, { id: 2, username: 'ivo', password: 'ivo-pw-22', bio: 'member' });
    const sessions = new Map<string, number>();
    const api = await startServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text || '{}');
      } catch {}
      const path = (req.url ?? '/').split('?')[0];
      const byName = (n: unknown) => [...users.values()].find((u) => u.username === n);
      if (req.method === 'POST' && path === '/guild/signup') {
        if (typeof body.username !== 'string' || typeof body.password !== 'string' || body.username === '')
          return send(400, { error: 'missing' });
        if (byName(body.username)) return send(409, { error: 'taken' });
        const n = Math.max(...users.keys()) + 1;
        users.set(n, { id: n, username: body.username, password: body.password, bio: '' });
        return send(201, { message: 'welcome' });
      }
      if (req.method === 'POST' && path === '/guild/login') {
        const u = byName(body.username);
        if (!u || u.password !== body.password) return send(401, { error: 'bad credentials' });
        const token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ account_id: 1, user_id: u.id, exp: Math.floor(Date.now() / 1000) + 600 })}.${randomBytes(8).toString('base64url')}`;
        sessions.set(token, u.id);
        return send(200, { token });
      }
      const me = users.get(sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? -1);
      if (!me) return send(401, { error: 'sign in' });
      const m = /^\/guild\/users\/(\d+)$/.exec(path);
      if (!m) return send(404, { error: 'not found' });
      if (req.method === 'GET') return send(200, { id: me.id, username: me.username, bio: me.bio });
      const u = users.get(Number(m[1]));
      if (!u) return send(404, { error: 'no such member' });
      touched.push(`${req.method} ${u.username} by ${me.username}`);
      if (req.method === 'PUT') {
        if (typeof body.bio === 'string') u.bio = body.bio;
        return send(200, { id: u.id, username: u.username, bio: u.bio });
      }
      if (req.method === 'DELETE') {
        users.delete(u.id);
        return send(200, { deleted: true });
      }
      return send(405, {});
    });
    try {
      const login = (name: string, password: string) => ({
        name,
        login: { path: '/guild/login', body: { username: name, password } },
      });
      await scanDocument(SPEC, api.url, {
        identities: [login('hana', 'hana-pw-21'), login('ivo', 'ivo-pw-22')],
        checks: ['API1', 'API8'],
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  test('hana and ivo are neither changed nor deleted', () => {
    const given = touched.filter((t) => / (hana|ivo) by /.test(t));
    assert.deepEqual(given, []);
    assert.equal(users.get(1)?.bio, 'founder');
    assert.equal(users.get(2)?.bio, 'member');
  });
});
