import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';

/**
 * The scan never changes a given identity's own account through routes that name no account: the session says
 * whose it is. A Koa-style "studio" API under `/v2` with bearer tokens from `POST /v2/auth/token`
 * (`{access_token}`), and four routes on the sender's own account:
 *
 * - `POST /v2/me/password`, documented without a body: it answers 400 "'new_password' is required" (discovery's
 *   undocumented-body retry must not send one as the identity);
 * - `POST /v2/me/passphrase` with a documented `{new_password}` (the injection probes must not send it);
 * - `POST /v2/profile/email` with a documented `{email}` only (neither discovery nor the probes);
 * - `POST /v2/join`, a sign-up whose documented example is a given identity's name and which sets the password
 *   of a name that exists (an upsert): probed anonymously only, with names of the probes' own.
 *
 * Beside them `POST /v2/studio/echo`, documented without a body, answers 400 "'message' is required": discovery
 * still learns its body; and the probes still reach `POST /v2/studio/notes {title}` as the identity. The server applies every change and reports the given
 * identities' records afterwards.
 */
const body = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'studio', version: '2' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v2/auth/token': {
      post: {
        operationId: 'token',
        security: [],
        requestBody: body({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' } },
      },
    },
    '/v2/join': {
      post: {
        operationId: 'join',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
                example: { username: 'mira', password: 'studio-pw-1' },
              },
            },
          },
        },
        responses: { '201': { description: 'joined' } },
      },
    },
    '/v2/members': {
      post: {
        operationId: 'addMember',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
                example: { username: 'otto', password: 'studio-pw-2' },
              },
            },
          },
        },
        responses: { '201': { description: 'a member' } },
      },
    },
    '/v2/me': { get: { operationId: 'me', responses: { '200': { description: 'me' } } } },
    '/v2/me/password': {
      post: { operationId: 'changePassword', responses: { '200': { description: 'changed' } } },
    },
    '/v2/me/passphrase': {
      post: {
        operationId: 'changePassphrase',
        requestBody: body({ new_password: { type: 'string' } }),
        responses: { '200': { description: 'changed' } },
      },
    },
    '/v2/profile/email': {
      post: {
        operationId: 'changeEmail',
        requestBody: body({ email: { type: 'string', format: 'email' } }),
        responses: { '200': { description: 'changed' } },
      },
    },
    '/v2/studio/echo': {
      post: { operationId: 'echo', responses: { '200': { description: 'echoed' } } },
    },
    '/v2/studio/notes': {
      post: {
        operationId: 'addNote',
        requestBody: body({ title: { type: 'string' } }),
        responses: { '201': { description: 'added' } },
      },
    },
  },
};

interface Account {
  username: string;
  password: string;
  email: string;
}
const GIVEN = [
  { username: 'mira', password: 'mira-pw-41', email: 'mira@studio.test' },
  { username: 'otto', password: 'otto-pw-73', email: 'otto@studio.test' },
];

describe('no change to a given identity through its own account routes', () => {
  const lines: string[] = [];
  let accounts: Account[] = [];
  let result: ScanResult;
  before(async () => {
    accounts = GIVEN.map((a) => ({ ...a }));
    const tokens = new Map<string, Account>();
    const api = await startServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      let v: Record<string, unknown> = {};
      try {
        const parsed = text === '' ? {} : JSON.parse(text);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) v = parsed;
      } catch {
        return send(400, { error: 'invalid JSON' });
      }
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/v2/auth/token') {
        lines.push(`POST /v2/auth/token anonymous ${text}`);
        const a = accounts.find((x) => x.username === v.username && x.password === v.password);
        if (!a) return send(401, { error: 'invalid credentials' });
        const t = randomBytes(20).toString('hex');
        tokens.set(t, a);
        return send(200, { access_token: t, token_type: 'bearer' });
      }
      if (req.method === 'POST' && (path === '/v2/join' || path === '/v2/members')) {
        lines.push(`POST ${path} anonymous ${text}`);
        if (typeof v.username !== 'string' || typeof v.password !== 'string')
          return send(400, { error: 'username and password are required' });
        // A careless upsert: joining with a name that exists sets its password.
        const known = accounts.find((x) => x.username === v.username);
        if (known) known.password = v.password;
        else accounts.push({ username: v.username, password: v.password, email: '' });
        return send(201, { username: v.username });
      }
      const me = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      lines.push(`${req.method} ${path} ${me?.username ?? 'anonymous'} ${text}`);
      if (!me) return send(401, { error: 'token required' });
      if (req.method === 'GET' && path === '/v2/me')
        return send(200, { username: me.username, email: me.email });
      if (req.method !== 'POST') return send(404, { error: 'not found' });
      if (path === '/v2/me/password' || path === '/v2/me/passphrase') {
        if (typeof v.new_password !== 'string' || v.new_password === '')
          return send(400, { error: "'new_password' is required" });
        me.password = v.new_password;
        return send(200, { ok: true });
      }
      if (path === '/v2/profile/email') {
        if (typeof v.email !== 'string') return send(400, { error: "'email' is required" });
        me.email = v.email;
        return send(200, { ok: true });
      }
      if (path === '/v2/studio/echo') {
        if (typeof v.message !== 'string') return send(400, { error: "'message' is required" });
        return send(200, { echo: v.message });
      }
      if (path === '/v2/studio/notes') return send(201, { title: String(v.title ?? '') });
      return send(404, { error: 'not found' });
    });
    try {
      const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const { runScan } = await import('../../src/scanner/scan/runner.ts');
      const dir = await mkdtemp(join(tmpdir(), 'portcullis-own-account-'));
      try {
        const spec = join(dir, 'spec.json');
        await writeFile(spec, JSON.stringify(SPEC));
        result = await runScan({
          spec,
          target: api.url,
          identities: GIVEN.map((a) => ({
            name: a.username,
            login: { path: '/v2/auth/token', body: { username: a.username, password: a.password } },
          })),
          checks: ['API8', 'API9'],
          ratePerSecond: 200,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await api.close();
    }
  });

  test("the given identities' passwords and e-mails are unchanged", () => {
    assert.ok(result.stats.requests > 0);
    assert.deepEqual(
      accounts.slice(0, 2),
      GIVEN,
      lines.filter((l) => /password|passphrase|email/.test(l)).join('\n'),
    );
  });

  test('no password or e-mail body is sent as a given identity', () => {
    const sent = lines.filter((l) => /^POST \/v2\/(me|profile)\/\S+ (mira|otto) \{.+\}/.test(l));
    assert.deepEqual(sent, []);
  });

  test('the sign-up is probed anonymously, never with a given name', () => {
    const joins = lines.filter((l) => l.startsWith('POST /v2/join '));
    assert.ok(joins.length > 3, lines.join('\n'));
    assert.deepEqual(
      joins.filter((l) => /"username":"(mira|otto)/.test(l)),
      [],
    );
  });

  test('a creation in a users collection that sets a password is probed like a sign-up', () => {
    const members = lines.filter((l) => l.startsWith('POST /v2/members '));
    assert.ok(members.filter((l) => l.includes("'")).length > 0, lines.join('\n'));
    assert.deepEqual(
      members.filter((l) => /"username":"(mira|otto)/.test(l)),
      [],
    );
  });

  test('the login, whose body is account fields too, is still probed', () => {
    const quoted = lines.filter((l) => l.startsWith('POST /v2/auth/token ') && l.includes("'"));
    assert.ok(quoted.length > 0, lines.join('\n'));
  });

  test('an ordinary undocumented body is still learnt, an ordinary input still probed', () => {
    const echoes = lines.filter((l) => l.startsWith('POST /v2/studio/echo mira {"message":'));
    assert.ok(echoes.length >= 1, lines.join('\n'));
    const notes = lines.filter((l) => l.startsWith('POST /v2/studio/notes mira {"title":'));
    assert.ok(notes.length > 3, lines.join('\n'));
  });
});
