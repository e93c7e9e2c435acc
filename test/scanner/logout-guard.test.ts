import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * No request ends a given identity's sessions, however the route is spelled. A Hapi-style club API (bearer
 * tokens from `POST /club/tokens`) with three ways to end every session of the caller that the old guard (a
 * `logout`/`signout` path segment, or a trailing `/revoke`) missed: `POST /club/auth/logoutAll` (operation
 * `endAllSessions`), `POST /club/tokens/revoke-all` and `POST /club/sessions/terminateOthers`. Discovery and
 * API2 run (no sign-up: API2's session probe would log out a second session of the given identity piet, and
 * must not use a logout that ends all of piet's sessions); the server records who called what.
 */
const op = (operationId: string) => ({ post: { operationId, responses: { '200': { description: 'ok' } } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'club', version: '1' },
  components: { securitySchemes: { b: { type: 'http', scheme: 'bearer' } } },
  security: [{ b: [] }],
  paths: {
    '/club/tokens': {
      post: {
        operationId: 'issueToken',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'token' } },
      },
    },
    '/club/me': { get: { operationId: 'me', responses: { '200': { description: 'me' } } } },
    '/club/auth/logoutAll': op('endAllSessions'),
    '/club/tokens/revoke-all': op('revokeAllTokens'),
    '/club/sessions/terminateOthers': op('dropOtherDevices'),
  },
};

const USERS = [
  { id: 1, username: 'nadia', password: 'nadia-pw-40' },
  { id: 2, username: 'piet', password: 'piet-pw-41' },
];

describe('the logout guard: no given identity ends its sessions', () => {
  const ended: string[] = [];
  before(async () => {
    const sessions = new Map<string, number>();
    const api = await startServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/club/tokens') {
        const v = JSON.parse(text || '{}') as { username?: string; password?: string };
        const u = USERS.find((x) => x.username === v.username && x.password === v.password);
        if (!u) return send(401, { message: 'no' });
        const token = randomBytes(12).toString('hex');
        sessions.set(token, u.id);
        return send(200, { token });
      }
      const who = sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      const user = USERS.find((u) => u.id === who);
      if (!user) return send(401, { message: 'sign in' });
      if (req.method === 'GET' && path === '/club/me')
        return send(200, { id: user.id, username: user.username });
      if (req.method === 'POST' && /^\/club\/(auth|tokens|sessions)\//.test(path)) {
        ended.push(`${path} ${user.username}`);
        for (const [t, id] of sessions) if (id === user.id) sessions.delete(t);
        return send(200, { ended: true });
      }
      return send(404, { message: 'not found' });
    });
    try {
      const login = (u: (typeof USERS)[number]) => ({
        name: u.username,
        login: { path: '/club/tokens', body: { username: u.username, password: u.password } },
      });
      await scanDocument(SPEC, api.url, {
        identities: [login(USERS[0]), login(USERS[1])],
        checks: ['API2'],
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  test('logoutAll, revoke-all and terminateOthers are never sent as a given identity', () => {
    assert.deepEqual(ended, []);
  });
});
