import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A forum in an Express-with-sessions style: `POST /auth/session` answers a token, `POST /signup` registers
 * (vulnerable: it stores any `role` sent, so a member registers as a moderator-admin), and the member's own
 * account is changed by `POST /me/password {new_password}` and `POST /member/email {email}` (no current
 * password asked). The mass-assignment probe must find the sign-up and leave alice's password and e-mail as
 * they were. Fixed twin: the sign-up stores only the declared fields.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'forum', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth/session': {
      post: {
        operationId: 'login',
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
        responses: { '200': { description: 'ok' } },
      },
    },
    '/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  username: { type: 'string' },
                  email: { type: 'string' },
                  password: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'ok' } },
      },
    },
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'ok' } } } },
    '/me/password': {
      post: {
        operationId: 'setPassword',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', properties: { new_password: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
    '/member/email': {
      post: {
        operationId: 'setEmail',
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', properties: { email: { type: 'string' } } } },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
  },
};

interface Member {
  id: number;
  username: string;
  email: string;
  password: string;
  role: string;
}
interface Forum {
  url: string;
  server: Server;
  members: Map<string, Member>;
}

async function startForum(fixed: boolean): Promise<Forum> {
  const members = new Map<string, Member>();
  for (const [i, u] of ['alice', 'bob'].entries())
    members.set(u, {
      id: i + 1,
      username: u,
      email: `${u}@forum.test`,
      password: `${u}-pw-7`,
      role: 'member',
    });
  const sessions = new Map<string, string>();
  const s = await startServer((req, res) => {
    const json = (status: number, b: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let b: Record<string, unknown> = {};
      try {
        const raw = Buffer.concat(chunks).toString('utf8');
        b = raw ? JSON.parse(raw) : {};
      } catch {
        return json(400, { error: 'bad json' });
      }
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/auth/session') {
        const m = members.get(String(b.username));
        if (!m || m.password !== b.password) return json(401, { error: 'bad credentials' });
        const token = randomBytes(16).toString('hex');
        sessions.set(token, m.username);
        return json(200, { token });
      }
      if (req.method === 'POST' && path === '/signup') {
        if (typeof b.username !== 'string' || typeof b.password !== 'string')
          return json(422, { error: 'fields' });
        if (members.has(b.username)) return json(409, { error: 'taken' });
        const role = !fixed && typeof b.role === 'string' ? b.role : 'member';
        const m = {
          id: members.size + 1,
          username: b.username,
          email: String(b.email),
          password: b.password,
          role,
        };
        members.set(m.username, m);
        return json(201, { id: m.id, username: m.username });
      }
      const me = members.get(sessions.get(String(req.headers.authorization).replace(/^Bearer /, '')) ?? '');
      if (!me) return json(401, { error: 'login required' });
      if (req.method === 'GET' && path === '/me')
        return json(200, { id: me.id, username: me.username, email: me.email, role: me.role });
      if (req.method === 'POST' && path === '/me/password') {
        if (typeof b.new_password !== 'string') return json(422, { error: 'new_password' });
        me.password = b.new_password;
        return json(200, { ok: true });
      }
      if (req.method === 'POST' && path === '/member/email') {
        if (typeof b.email !== 'string') return json(422, { error: 'email' });
        me.email = b.email;
        return json(200, { ok: true });
      }
      return json(404, { error: 'not found' });
    });
  });
  return { url: s.url, server: s.server, members };
}

describe('API3 mass assignment leaves the given identities’ passwords and e-mails alone', () => {
  let scans: TwinScans<Forum>;
  before(async () => {
    scans = await scanTwins(SPEC, startForum, {
      identities: ['alice', 'bob'].map((u) => ({
        name: u,
        login: { path: '/auth/session', body: { username: u, password: `${u}-pw-7` } },
      })),
      checks: ['API3'],
      ratePerSecond: 200,
    });
  });

  test('alice and bob keep their passwords and e-mails on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      for (const u of ['alice', 'bob']) {
        const m = scans[kind].api.members.get(u);
        assert.equal(m?.password, `${u}-pw-7`, `${kind} ${u}`);
        assert.equal(m?.email, `${u}@forum.test`, `${kind} ${u}`);
      }
  });

  test('the sign-up that stores a role is still found; nothing on the fixed twin', () => {
    const ma = (kind: 'vulnerable' | 'fixed') =>
      scans[kind].result.findings
        .filter((f) => f.rule.id === 'scan/api3-mass-assignment')
        .map((f) => f.operation?.operationId);
    assert.deepEqual(ma('vulnerable'), ['signup']);
    assert.deepEqual(ma('fixed'), []);
  });
});
