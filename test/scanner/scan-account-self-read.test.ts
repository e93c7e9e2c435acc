import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * A notes app in a mobile-backend style whose login signs a new e-mail up on first use: an unknown e-mail
 * creates the account with the password it came with, a known one needs its own password. `GET /api/me`
 * answers the caller's own `{id, email}` (its document declares no schema). The scan's own made-up user
 * (the login lets it in) reads its own `/me`: its own e-mail is no one else's data. The vulnerable twin's
 * `/me` also shows the account's password hash, a secret even to its owner: found all the same.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'notes', version: '1.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/login': {
      post: {
        operationId: 'sign_in',
        description: 'Signs in; an e-mail used for the first time creates the account with that password.',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: {
                  email: { type: 'string', format: 'email' },
                  password: { type: 'string', format: 'password', minLength: 8 },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'wrong password' } },
      },
    },
    '/api/me': { get: { operationId: 'me', responses: { '200': { description: 'me' } } } },
    '/api/notes': {
      get: {
        operationId: 'list_notes',
        responses: {
          '200': {
            description: 'my notes',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { id: { type: 'integer' }, text: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

const IDENTITIES = {
  identities: [
    {
      name: 'alice',
      login: { path: '/api/auth/login', body: { email: 'alice@notes.test', password: 'pw-alice-1' } },
    },
    {
      name: 'bob',
      login: { path: '/api/auth/login', body: { email: 'bob@notes.test', password: 'pw-bob-22' } },
    },
  ],
  admin: {
    name: 'root',
    login: { path: '/api/auth/login', body: { email: 'root@notes.test', password: 'pw-root-333' } },
  },
  ratePerSecond: 400,
};

interface Notes extends TestServer {
  /** E-mails that read `/api/me`. */
  readonly meReaders: Set<string>;
}

async function startNotes(fixed: boolean): Promise<Notes> {
  const users = new Map<string, { id: number; pw: string }>([
    ['alice@notes.test', { id: 1, pw: 'pw-alice-1' }],
    ['bob@notes.test', { id: 2, pw: 'pw-bob-22' }],
    ['root@notes.test', { id: 3, pw: 'pw-root-333' }],
  ]);
  const tokens = new Map<string, string>();
  const meReaders = new Set<string>();
  const server = await startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0].replace(/\/$/, '');
      if (path === '/api/auth/login' && req.method === 'POST') {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(raw);
        } catch {
          return send(400, { error: 'bad json' });
        }
        const { email, password } = body ?? {};
        if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email) || typeof password !== 'string')
          return send(422, { error: 'email and password' });
        if (password.length < 8) return send(422, { error: 'a password of 8+ characters' });
        let user = users.get(email);
        if (!user) {
          user = { id: users.size + 1, pw: password };
          users.set(email, user);
        } else if (user.pw !== password) return send(401, { error: 'wrong password' });
        const token = randomBytes(16).toString('hex');
        tokens.set(token, email);
        return send(200, { token, user_id: user.id });
      }
      const auth = String(req.headers.authorization ?? '');
      const email = auth.startsWith('Bearer ') ? tokens.get(auth.slice(7)) : undefined;
      if (email === undefined) return send(401, { error: 'unauthorized' });
      const user = users.get(email)!;
      if (path === '/api/me' && req.method === 'GET') {
        meReaders.add(email);
        return send(
          200,
          fixed
            ? { id: user.id, email }
            : { id: user.id, email, password_hash: `$2b$12$${randomBytes(20).toString('hex').slice(0, 53)}` },
        );
      }
      if (path === '/api/notes' && req.method === 'GET') return send(200, []);
      return send(404, { error: 'not found' });
    });
  });
  return { ...server, meReaders };
}

describe("API3 sensitive data: the scan's own made-up account reading its own profile", () => {
  const runs = {} as Awaited<ReturnType<typeof scanTwins<Notes>>>;
  before(async () => {
    Object.assign(runs, await scanTwins(SPEC, startNotes, IDENTITIES));
  });

  test("the fixed twin: no finding on GET /api/me, though the scan's own account read its e-mail there", () => {
    const { result, api } = runs.fixed;
    assert.ok(
      [...api.meReaders].some((e) => !e.endsWith('@notes.test')),
      `an account of the scan's own read /api/me: ${[...api.meReaders].join(', ')}`,
    );
    const found = result.findings.filter(
      (f) => f.rule.id.startsWith('scan/api3') && f.operation?.operationId === 'me',
    );
    assert.deepEqual(
      found.map((f) => `${f.rule.id} ${f.message}`),
      [],
    );
  });

  test('the vulnerable twin: the password hash in /me is still found', () => {
    const found = runs.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api3-sensitive-data-exposure' && f.operation?.operationId === 'me',
    );
    assert.equal(found.length, 1, runs.vulnerable.result.findings.map((f) => f.message).join('\n'));
    assert.match(found[0].message, /password_hash/);
    assert.doesNotMatch(found[0].message, /\/email/);
  });
});
