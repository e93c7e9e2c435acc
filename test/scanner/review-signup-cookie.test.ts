import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review finding (session 13, R): a sign-up that signs the new account in (a session cookie in its answer, as
 * Rails/Devise, Laravel and Django apps do after registration) replaces a given identity's session when the scan
 * sends that sign-up with the identity's cookie jar (the creations are sent as A and B): the jar keeps every
 * Set-Cookie (client.ts). From then on every request "as alice" goes as the scan's new account, so the
 * authorization checks compare the wrong people (on a JSON:API ledger: 5 requests as alice, then 260 as
 * pc...@example.com under alice's name). The runner now keeps the jar of a given identity or the admin from the
 * answer to any request that may sign someone in (a sign-up, a login, a body with a password: mayStartSession).
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'review cookies', version: '1' },
  components: { securitySchemes: { cookie: { type: 'apiKey', in: 'cookie', name: 'sid' } } },
  security: [{ cookie: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: body({ email: { type: 'string' }, password: { type: 'string' } }, ['email', 'password']),
        responses: { '201': { description: 'signed in' }, '401': { description: 'refused' } },
      },
    },
    '/users': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: body(
          {
            email: { type: 'string', format: 'email' },
            password: { type: 'string' },
            name: { type: 'string' },
          },
          ['email', 'password', 'name'],
        ),
        responses: { '201': { description: 'registered and signed in' } },
      },
    },
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'the caller' } } } },
    '/notes': {
      get: { operationId: 'myNotes', responses: { '200': { description: "the caller's notes" } } },
    },
    '/notes/{id}': {
      get: {
        operationId: 'note',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a note' }, '404': { description: 'none' } },
      },
    },
  },
};

async function startNotes() {
  const users = [
    { id: 1, email: 'alice@notes.test', password: 'Alice-pass-1', name: 'Alice' },
    { id: 2, email: 'bob@notes.test', password: 'Bob-pass-2', name: 'Bob' },
    { id: 3, email: 'root@notes.test', password: 'Root-pass-3', name: 'Root' },
  ];
  const notes = [
    { id: 1, owner: 1, text: 'alice note' },
    { id: 2, owner: 2, text: 'bob note' },
  ];
  const sessions = new Map<string, number>();
  const loginSid = new Map<number, string>();
  let signedUp = false;
  const afterSignUp = new Map<string, number>();
  const { url, server } = await startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    const sid = /(?:^|;\s*)sid=([0-9a-f]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    if (sid && signedUp) afterSignUp.set(sid, (afterSignUp.get(sid) ?? 0) + 1);
    const issue = (uid: number, status: number, payload: unknown) => {
      const s = randomBytes(16).toString('hex');
      sessions.set(s, uid);
      res.setHeader('set-cookie', `sid=${s}; Path=/; HttpOnly`);
      sendJson(res, status, payload);
      return s;
    };
    if (req.method === 'POST' && path === '/session') {
      const u = users.find((x) => x.email === b.email && x.password === b.password);
      if (!u) return sendJson(res, 401, { error: 'invalid' });
      loginSid.set(u.id, issue(u.id, 201, { user: { id: u.id } }));
      return;
    }
    if (req.method === 'POST' && path === '/users') {
      if (typeof b.email !== 'string' || typeof b.password !== 'string' || typeof b.name !== 'string')
        return sendJson(res, 422, { error: 'email, password and name' });
      if (users.some((u) => u.email === b.email)) return sendJson(res, 422, { error: 'taken' });
      const u = { id: users.length + 1, email: b.email, password: b.password, name: b.name };
      users.push(u);
      signedUp = true;
      issue(u.id, 201, { user: { id: u.id, email: u.email, name: u.name } });
      return;
    }
    const me = sid ? sessions.get(sid) : undefined;
    if (me === undefined) return sendJson(res, 401, { error: 'sign in' });
    if (req.method === 'GET' && path === '/me') {
      const u = users.find((x) => x.id === me)!;
      return sendJson(res, 200, { id: u.id, email: u.email, name: u.name });
    }
    if (req.method === 'GET' && path === '/notes')
      return sendJson(res, 200, { notes: notes.filter((n) => n.owner === me) });
    const m = /^\/notes\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const n = notes.find((x) => x.id === Number(m[1]) && x.owner === me);
      return n ? sendJson(res, 200, n) : sendJson(res, 404, { error: 'none' });
    }
    return sendJson(res, 404, { error: 'not found' });
  });
  return { url, server, loginSid, afterSignUp, signed: () => signedUp };
}

const identity = (email: string, password: string) => ({
  name: email.split('@')[0],
  login: { path: '/session', body: { email, password }, tokenCookie: 'sid' },
});

describe("review: a sign-up's session cookie does not replace a given identity's", () => {
  let api: Awaited<ReturnType<typeof startNotes>>;
  let result: ScanResult;
  before(async () => {
    api = await startNotes();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [identity('alice@notes.test', 'Alice-pass-1'), identity('bob@notes.test', 'Bob-pass-2')],
        admin: identity('root@notes.test', 'Root-pass-3'),
        ratePerSecond: 200,
      });
    } finally {
      api.server.close();
    }
  });

  test("alice's and bob's login sessions are still sent after the scan's first sign-up", () => {
    assert.ok(result);
    assert.ok(api.signed(), 'the scan signed up');
    for (const uid of [1, 2]) {
      const sid = api.loginSid.get(uid);
      assert.ok(sid, `user ${uid} signed in`);
      assert.ok((api.afterSignUp.get(sid) ?? 0) > 0, `user ${uid}'s session unused after the sign-up`);
    }
  });
});
