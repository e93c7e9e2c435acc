import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * API4 ReDoS on an account route named by id (`PUT /api/users/{id}/email`) goes only to an id read back as the
 * scan's own account's (fd76ede). A team workspace in an Express style: an anonymous sign-up
 * `POST /api/register {username, email, password}` that answers a message and no id, a login whose answer
 * carries `account_id: 1` (the workspace every member shares; also alice's user id) before the member's own
 * `user_id`, a member directory `GET /api/users/{id}`, and `PUT /api/users/{id}/email` that checks nothing
 * about who calls it. Vulnerable: that e-mail is checked with nested quantifiers; fixed twin: a linear check.
 * A third server reads `GET /api/users/{id}` as the caller whatever the id (so no id can be proved the scan's
 * own account's): there the probe must send nothing to the route and say why.
 */
const VULNERABLE_EMAIL = /^([a-zA-Z0-9]+[._-]?)+@[a-z0-9]+\.[a-z]{2,3}$/;
const LINEAR_EMAIL = /^[a-zA-Z0-9]+(?:[._-][a-zA-Z0-9]+)*@[a-z0-9]+\.[a-z]{2,3}$/;
const USERNAME = /^[a-z0-9]{3,24}$/;

const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const id = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'workspace', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: json({
          username: { type: 'string' },
          email: { type: 'string' },
          password: { type: 'string' },
        }),
        responses: { '201': { description: 'registered' }, '400': { description: 'invalid' } },
      },
    },
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/api/users/{id}': {
      get: { operationId: 'getUser', parameters: [id], responses: { '200': { description: 'a member' } } },
    },
    '/api/users/{id}/email': {
      put: {
        operationId: 'changeEmail',
        parameters: [id],
        requestBody: json({ email: { type: 'string' } }),
        responses: { '200': { description: 'changed' }, '400': { description: 'invalid' } },
      },
    },
  },
};

type Mode = 'vulnerable' | 'fixed' | 'blind-read';

interface Member {
  id: number;
  username: string;
  email: string;
  password: string;
}

interface Workspace {
  url: string;
  server: Server;
  members: Member[];
  /** `PUT <path> <caller>` for every e-mail change that reached the server. */
  changes: string[];
}

const given = (): Member[] => [
  { id: 1, username: 'alice', email: 'alice@team.test', password: 'alice-pw-61' },
  { id: 2, username: 'bob', email: 'bob@team.test', password: 'bob-pw-24' },
];

async function startWorkspace(mode: Mode): Promise<Workspace> {
  const members = given();
  const changes: string[] = [];
  const tokens = new Map<string, Member>();
  const email = mode === 'fixed' ? LINEAR_EMAIL : VULNERABLE_EMAIL;
  const s = await startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) if (text.length < 100_000) text += chunk;
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { error: 'bad JSON' });
    }
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '');
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/register') {
      if (!USERNAME.test(str('username'))) return send(400, { error: 'invalid username' });
      if (!LINEAR_EMAIL.test(str('email'))) return send(400, { error: 'invalid email' });
      if (str('password').length < 8) return send(400, { error: 'password too short' });
      if (members.some((m) => m.username === str('username'))) return send(409, { error: 'taken' });
      members.push({
        id: members.length + 1,
        username: str('username'),
        email: str('email'),
        password: str('password'),
      });
      return send(201, { message: 'registered' });
    }
    if (req.method === 'POST' && path === '/api/login') {
      const m = members.find((x) => x.username === str('username') && x.password === str('password'));
      if (!m) return send(401, { error: 'wrong user name or password' });
      const token = `ws${m.id}.${randomBytes(16).toString('hex')}`;
      tokens.set(token, m);
      // The workspace first: every member's account_id is 1.
      return send(200, { token, account_id: 1, user_id: m.id });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return send(401, { error: 'sign in' });
    const read = /^\/api\/users\/(\d+)$/.exec(path);
    if (req.method === 'GET' && read) {
      const m = mode === 'blind-read' ? who : members.find((x) => x.id === Number(read[1]));
      if (!m) return send(404, { error: 'no such member' });
      return send(200, { id: m.id, username: m.username, email: m.email });
    }
    const change = /^\/api\/users\/(\d+)\/email$/.exec(path);
    if (req.method === 'PUT' && change) {
      changes.push(`PUT ${path} ${who.username}`);
      const m = members.find((x) => x.id === Number(change[1]));
      if (!m) return send(404, { error: 'no such member' });
      if (!email.test(str('email'))) return send(400, { error: 'invalid email' });
      m.email = str('email');
      return send(200, { id: m.id, email: m.email });
    }
    return send(404, { error: 'not found' });
  });
  return { url: s.url, server: s.server, members, changes };
}

describe('API4 ReDoS on an account route named by id: only an id read back as the scan’s own', () => {
  const scans = {} as Record<Mode, { result: ScanResult; api: Workspace }>;
  before(async () => {
    const login = (m: Member) => ({
      name: m.username,
      login: { path: '/api/login', body: { username: m.username, password: m.password } },
    });
    for (const mode of ['vulnerable', 'fixed', 'blind-read'] as const) {
      const api = await startWorkspace(mode);
      try {
        const result = await scanDocument(SPEC, api.url, {
          identities: given().map(login),
          checks: ['API4'],
          ratePerSecond: 200,
        });
        scans[mode] = { result, api };
      } finally {
        api.server.close();
      }
    }
  });

  const redos = (mode: Mode) =>
    scans[mode].result.findings
      .filter((f) => f.rule.id === 'scan/api4-redos')
      .map((f) => `${f.operation?.operationId} ${f.evidence?.input}`);

  test('the vulnerable e-mail check is found on the scan’s own account, by its checked id', () => {
    assert.deepEqual(redos('vulnerable'), ['changeEmail email']);
    const { members, changes } = scans.vulnerable.api;
    const own = members.find((m) => m.username.startsWith('pcr'));
    assert.ok(own, 'the probe registered an account of its own');
    assert.ok(changes.length > 0);
    for (const c of changes) assert.equal(c, `PUT /api/users/${own.id}/email ${own.username}`);
  });

  test('no finding on the linear twin', () => {
    assert.deepEqual(redos('fixed'), []);
    assert.ok(scans.fixed.api.changes.length > 0, 'the twin was probed too');
  });

  test('where no id can be proved the account’s own, nothing is sent to the route, and the coverage says why', () => {
    assert.deepEqual(redos('blind-read'), []);
    assert.deepEqual(scans['blind-read'].api.changes, []);
    const cells = scans['blind-read'].result.coverage.matrix.filter(
      (c) => c.check === 'API4' && c.operation === 'PUT /api/users/{id}/email',
    );
    assert.ok(
      cells.some((c) => c.status === 'skipped' && /no account of the scan's own/.test(c.reason ?? '')),
      JSON.stringify(cells),
    );
  });

  test('alice and bob keep their e-mails everywhere', () => {
    for (const mode of ['vulnerable', 'fixed', 'blind-read'] as const)
      assert.deepEqual(
        scans[mode].api.members.slice(0, 2).map((m) => m.email),
        ['alice@team.test', 'bob@team.test'],
        mode,
      );
  });
});
