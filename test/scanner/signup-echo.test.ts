import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Two false positives of a sign-up (f1fe3c9). A payroll service in a Flask style: an anonymous
 * `POST /api/users {username, email, password, tax_id}` answers the new member as it was sent (its tax id too,
 * declared), user names are display names (not unique; login is by e-mail), `GET /api/users/{id}` is a public
 * directory that shows every member's tax id (a real leak, the control of the first), and
 * `POST /api/notes {title, username}` files a note under whatever member the body names (a real ownership
 * flaw, the control of the second).
 * (a) The sign-up's answer echoing the tax id an anonymous caller sent is that caller's own data, not a leak.
 * (b) A sign-up is no creation with an owner field: B sending alice's name there makes a new member called
 * alice (or, on an API that upserts, would take over alice's account), not an object in alice's name.
 */
const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const answer = (description: string, properties: Record<string, unknown>) => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const str = { type: 'string' };
const MEMBER = { id: { type: 'integer' }, username: str, email: str, tax_id: str };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'payroll', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/users': {
      post: {
        operationId: 'createUser',
        security: [],
        requestBody: json({
          username: str,
          email: { type: 'string', format: 'email' },
          password: str,
          tax_id: { type: 'string', example: 'DE4471902' },
        }),
        responses: { '201': answer('the new member', MEMBER), '409': { description: 'e-mail taken' } },
      },
    },
    '/api/users/{id}': {
      get: {
        operationId: 'getUser',
        security: [],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': answer('a member', MEMBER) },
      },
    },
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ email: str, password: str }),
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/api/me': {
      get: {
        operationId: 'me',
        responses: { '200': answer('the caller', { id: { type: 'integer' }, username: str, email: str }) },
      },
    },
    '/api/notes': {
      post: {
        operationId: 'createNote',
        requestBody: json({ title: str, username: str }),
        responses: { '201': answer('the note', { id: { type: 'integer' }, title: str, username: str }) },
      },
    },
    '/api/notes/{note_id}': {
      get: {
        operationId: 'getNote',
        parameters: [{ name: 'note_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': answer('the note', { id: { type: 'integer' }, title: str, username: str }) },
      },
    },
  },
};

interface Member {
  id: number;
  username: string;
  email: string;
  password: string;
  tax_id: string;
}

describe('a sign-up echoing what it was sent: no API3 leak, no API1 owner field', () => {
  const members: Member[] = [
    { id: 1, username: 'alice', email: 'alice@pay.test', password: 'alice-pw-38', tax_id: 'DE1000001' },
    { id: 2, username: 'bob', email: 'bob@pay.test', password: 'bob-pw-83', tax_id: 'DE1000002' },
  ];
  /** `<caller> <username>` of every sign-up that created a member. */
  const signups: string[] = [];
  let result: ScanResult;
  before(async () => {
    const tokens = new Map<string, Member>();
    const notes: { id: number; title: string; username: string }[] = [];
    const api = await startServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) if (text.length < 100_000) text += chunk;
      const send = (status: number, payload: unknown) => sendJson(res, status, payload);
      let body: Record<string, unknown> = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        return send(400, { error: 'bad JSON' });
      }
      const s = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '');
      const path = (req.url ?? '/').split('?')[0];
      const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      const view = (m: Member) => ({ id: m.id, username: m.username, email: m.email, tax_id: m.tax_id });
      if (req.method === 'POST' && path === '/api/users') {
        if (!s('username') || !s('email').includes('@') || s('password').length < 6)
          return send(400, { error: 'username, email and password are required' });
        if (members.some((m) => m.email === s('email'))) return send(409, { error: 'e-mail taken' });
        const m = {
          id: members.length + 1,
          username: s('username'),
          email: s('email'),
          password: s('password'),
          tax_id: s('tax_id'),
        };
        members.push(m);
        signups.push(`${who?.username ?? 'anonymous'} ${m.username}`);
        return send(201, view(m));
      }
      const read = /^\/api\/users\/(\d+)$/.exec(path);
      if (req.method === 'GET' && read) {
        const m = members.find((x) => x.id === Number(read[1]));
        return m ? send(200, view(m)) : send(404, { error: 'no such member' });
      }
      if (req.method === 'POST' && path === '/api/login') {
        const m = members.find((x) => x.email === s('email') && x.password === s('password'));
        if (!m) return send(401, { error: 'wrong e-mail or password' });
        const token = `py${m.id}.${randomBytes(16).toString('hex')}`;
        tokens.set(token, m);
        return send(200, { token });
      }
      if (!who) return send(401, { error: 'sign in' });
      if (req.method === 'GET' && path === '/api/me')
        return send(200, { id: who.id, username: who.username, email: who.email });
      if (req.method === 'POST' && path === '/api/notes') {
        const note = { id: notes.length + 1, title: s('title'), username: s('username') || who.username };
        notes.push(note);
        return send(201, note);
      }
      const note = /^\/api\/notes\/(\d+)$/.exec(path);
      if (req.method === 'GET' && note) {
        const n = notes.find((x) => x.id === Number(note[1]) && x.username === who.username);
        return n ? send(200, n) : send(404, { error: 'no such note' });
      }
      return send(404, { error: 'not found' });
    });
    const login = (m: Member) => ({
      name: m.username,
      login: { path: '/api/login', body: { email: m.email, password: m.password } },
    });
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [login(members[0]), login(members[1])],
        checks: ['API1', 'API3', 'API2'],
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  const found = (rule: string) =>
    result.findings
      .filter((f) => f.rule.id === rule)
      .map((f) => f.operation?.operationId)
      .sort();

  test('the sign-up was sent anonymously and echoed its body', () => {
    assert.ok(
      signups.some((s) => s.startsWith('anonymous ')),
      `${signups.join('\n')}\n${JSON.stringify(result.warnings)}\n${JSON.stringify(result.errors)}`,
    );
  });

  test("(a) API3: the directory's tax ids are reported, the sign-up's echo of its own is not", () => {
    assert.deepEqual(found('scan/api3-sensitive-data-exposure'), ['getUser']);
  });

  test("(b) API1: a note in alice's name is reported, a sign-up with her name is not (and is never sent)", () => {
    const owners = result.findings.filter(
      (f) => f.rule.id === 'scan/api1-bola-write' && /username/.test(String(f.evidence?.field)),
    );
    assert.deepEqual(
      owners.map((f) => f.operation?.operationId),
      ['createNote'],
    );
    assert.deepEqual(
      signups.filter((s) => / alice$/.test(s)),
      [],
    );
  });
});
