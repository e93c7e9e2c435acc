import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * Safety of the throwaway-account checks (API1 takeover, API2 password change): the scan changes no password
 * but its own accounts'. Each API keeps a log of whose password was set by whom; the given identities' passwords
 * must be the same after the scan.
 */

const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const pathId = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'integer' } });
const ok = { '200': { description: 'ok' } };

interface User {
  id: number;
  username: string;
  password: string;
}

interface Api {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly users: Map<number, User>;
  readonly log: string[];
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    const v = JSON.parse(text || '{}');
    return v !== null && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

function send(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(payload));
}

/**
 * S1: a workspace API (Koa style, bearer token) whose tokens are JWT-like and carry both the
 * workspace every member shares (`account_id: 1`, also the first member's user id) and the member's own
 * `user_id`. `PUT /workspace/users/{id}/password` sets any member's password (vulnerable) or only the caller's
 * (fixed). The scan must read which id is its own before it names one in a password route.
 */
const TENANT_SPEC = {
  openapi: '3.0.3',
  info: { title: 'workspace', version: '1' },
  components: { securitySchemes: { s: { type: 'http', scheme: 'bearer' } } },
  security: [{ s: [] }],
  paths: {
    '/workspace/join': {
      post: {
        operationId: 'join',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '201': { description: 'joined' } },
      },
    },
    '/workspace/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: ok,
      },
    },
    '/workspace/users/{id}': {
      get: { operationId: 'member', parameters: [pathId('id')], responses: ok },
    },
    '/workspace/users/{id}/password': {
      put: {
        operationId: 'setMemberPassword',
        parameters: [pathId('id')],
        requestBody: json({ password: { type: 'string' } }),
        responses: ok,
      },
    },
  },
};

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function startTenant(fixed: boolean): Promise<Api> {
  const users = new Map<number, User>();
  for (const [username, password] of [
    ['maria', 'maria-pw-61'],
    ['omar', 'omar-pw-77'],
  ]) {
    const id = users.size + 1;
    users.set(id, { id, username, password });
  }
  const sessions = new Map<string, number>();
  const log: string[] = [];
  const api = await startServer(async (req, res) => {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/workspace/join') {
      const { username, password } = body;
      if (typeof username !== 'string' || typeof password !== 'string' || username === '')
        return send(res, 400, { error: 'username and password' });
      if ([...users.values()].some((u) => u.username === username)) return send(res, 409, { error: 'taken' });
      const id = users.size + 1;
      users.set(id, { id, username, password });
      return send(res, 201, { message: 'welcome aboard' });
    }
    if (req.method === 'POST' && path === '/workspace/session') {
      const u = [...users.values()].find((x) => x.username === body.username);
      if (!u || u.password !== body.password) return send(res, 401, { error: 'bad credentials' });
      const token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ account_id: 1, user_id: u.id, exp: Math.floor(Date.now() / 1000) + 3600 })}.${randomBytes(12).toString('base64url')}`;
      sessions.set(token, u.id);
      return send(res, 200, { token });
    }
    const me = users.get(sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? -1);
    if (!me) return send(res, 401, { error: 'sign in first' });
    let m = /^\/workspace\/users\/(\d+)$/.exec(path);
    if (m && req.method === 'GET') {
      const u = users.get(Number(m[1]));
      return u && u.id === me.id ? send(res, 200, { id: u.id, username: u.username }) : send(res, 404, {});
    }
    m = /^\/workspace\/users\/(\d+)\/password$/.exec(path);
    if (m && req.method === 'PUT') {
      const u = users.get(Number(m[1]));
      if (!u) return send(res, 404, {});
      if (fixed && u.id !== me.id) return send(res, 403, { error: 'not yours' });
      if (typeof body.password !== 'string' || body.password === '') return send(res, 400, {});
      log.push(`${u.username} by ${me.username}`);
      u.password = body.password;
      return send(res, 200, { updated: true });
    }
    return send(res, 404, { error: 'no such route' });
  });
  return { url: api.url, server: api.server, users, log };
}

const identity = (username: string, password: string, path: string) => ({
  name: username,
  login: { path, body: { username, password } },
});

describe('S1: an id from a token is named in a password route only once read back as the account', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Api>>>;
  before(async () => {
    scans = await scanTwins(TENANT_SPEC, startTenant, {
      identities: [
        identity('maria', 'maria-pw-61', '/workspace/session'),
        identity('omar', 'omar-pw-77', '/workspace/session'),
      ],
      checks: ['API1', 'API2'],
      ratePerSecond: 200,
    });
  });

  const passwordsKept = (api: Api) => {
    assert.equal(api.users.get(1)?.password, 'maria-pw-61', api.log.join('\n'));
    assert.equal(api.users.get(2)?.password, 'omar-pw-77', api.log.join('\n'));
    for (const line of api.log) assert.match(line, /^pc[a-z]{1,2}[0-9a-f]+ by /, api.log.join('\n'));
  };

  test('the given identities keep their passwords (vulnerable and fixed)', () => {
    passwordsKept(scans.vulnerable.api);
    passwordsKept(scans.fixed.api);
  });

  test('the takeover is still found on the vulnerable API, not on the fixed one', () => {
    const rules = (r: ScanResult) => r.findings.map((f) => f.rule.id);
    assert.ok(
      rules(scans.vulnerable.result).includes('scan/api1-account-takeover'),
      String(rules(scans.vulnerable.result)),
    );
    // The fixed twin: no takeover (its sign-up and login have other findings of their own).
    assert.ok(
      !rules(scans.fixed.result).includes('scan/api1-account-takeover'),
      String(rules(scans.fixed.result)),
    );
  });
});

/**
 * S2: a campus API (Express style, bearer token) with two password setters that name someone the scan cannot
 * vouch for: `POST /campus/pupils/{pupil_id}/password` (a path parameter that is no account parameter, filled
 * from the pupil directory) and `POST /campus/password-reset {user, new_password}` (its example names a real
 * pupil). Both set anyone's password. The scan's own account S must send neither.
 */
const CAMPUS_SPEC = {
  openapi: '3.0.3',
  info: { title: 'campus', version: '1' },
  components: { securitySchemes: { b: { type: 'http', scheme: 'bearer' } } },
  security: [{ b: [] }],
  paths: {
    '/campus/enrol': {
      post: {
        operationId: 'enrol',
        security: [],
        requestBody: json({
          username: { type: 'string' },
          email: { type: 'string' },
          password: { type: 'string' },
        }),
        responses: { '201': { description: 'enrolled' } },
      },
    },
    '/campus/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: ok,
      },
    },
    '/campus/me': { get: { operationId: 'me', responses: ok } },
    '/campus/pupils': { get: { operationId: 'pupils', responses: ok } },
    '/campus/pupils/{pupil_id}': {
      get: { operationId: 'pupil', parameters: [pathId('pupil_id')], responses: ok },
    },
    '/campus/pupils/{pupil_id}/password': {
      post: {
        operationId: 'setPupilPassword',
        parameters: [pathId('pupil_id')],
        requestBody: json({ new_password: { type: 'string' } }),
        responses: ok,
      },
    },
    '/campus/password-reset': {
      post: {
        operationId: 'resetPassword',
        requestBody: json({ user: { type: 'string', example: 'zoe' }, new_password: { type: 'string' } }),
        responses: ok,
      },
    },
  },
};

async function startCampus(): Promise<Api> {
  const users = new Map<number, User>();
  for (const [username, password] of [
    ['lena', 'lena-pw-12'],
    ['raj', 'raj-pw-34'],
    ['zoe', 'zoe-pw-56'],
  ]) {
    const id = users.size + 1;
    users.set(id, { id, username, password });
  }
  const sessions = new Map<string, number>();
  const log: string[] = [];
  const byName = (n: unknown) => [...users.values()].find((u) => u.username === n);
  const api = await startServer(async (req, res) => {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/campus/enrol') {
      if (typeof body.username !== 'string' || typeof body.password !== 'string' || body.username === '')
        return send(res, 400, { error: 'missing' });
      if (byName(body.username)) return send(res, 409, { error: 'taken' });
      const id = users.size + 1;
      users.set(id, { id, username: body.username, password: body.password });
      return send(res, 201, { id, username: body.username });
    }
    if (req.method === 'POST' && path === '/campus/login') {
      const u = byName(body.username);
      if (!u || u.password !== body.password) return send(res, 401, { error: 'bad credentials' });
      const token = randomBytes(16).toString('hex');
      sessions.set(token, u.id);
      return send(res, 200, { token, user: { id: u.id, username: u.username } });
    }
    const me = users.get(sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? -1);
    if (!me) return send(res, 401, { error: 'login required' });
    if (req.method === 'GET' && path === '/campus/me')
      return send(res, 200, { id: me.id, username: me.username });
    if (req.method === 'GET' && path === '/campus/pupils')
      return send(
        res,
        200,
        [...users.values()].filter((u) => u.id <= 3).map((u) => ({ id: u.id, name: u.username })),
      );
    let m = /^\/campus\/pupils\/(\d+)$/.exec(path);
    if (m && req.method === 'GET') {
      const u = users.get(Number(m[1]));
      return u ? send(res, 200, { id: u.id, name: u.username }) : send(res, 404, {});
    }
    const set = (u: User | undefined) => {
      if (!u) return send(res, 404, { error: 'no such pupil' });
      if (typeof body.new_password !== 'string' || body.new_password === '') return send(res, 400, {});
      log.push(`${u.username} by ${me.username}`);
      u.password = body.new_password;
      return send(res, 200, { ok: true });
    };
    m = /^\/campus\/pupils\/(\d+)\/password$/.exec(path);
    if (m && req.method === 'POST') return set(users.get(Number(m[1])));
    if (req.method === 'POST' && path === '/campus/password-reset') return set(byName(body.user));
    return send(res, 404, { error: 'not found' });
  });
  return { url: api.url, server: api.server, users, log };
}

describe('S2: a password change that names anyone but the scan account is not sent', () => {
  let api: Api;
  before(async () => {
    const scans = await scanTwins(CAMPUS_SPEC, () => startCampus(), {
      identities: [
        identity('lena', 'lena-pw-12', '/campus/login'),
        identity('raj', 'raj-pw-34', '/campus/login'),
      ],
      checks: ['API1', 'API2'],
      ratePerSecond: 200,
    });
    api = scans.vulnerable.api;
  });

  test('no pupil but the scan accounts has a password set', () => {
    assert.deepEqual(
      [...api.users.values()].filter((u) => u.id <= 3).map((u) => u.password),
      ['lena-pw-12', 'raj-pw-34', 'zoe-pw-56'],
      api.log.join('\n'),
    );
    for (const line of api.log) assert.match(line, /^pc[a-z]{1,2}[0-9a-f]+ by /, api.log.join('\n'));
  });
});

/**
 * F1: a Flask-style API with a cookie session (`session`) that sets a fresh anonymous session cookie on every
 * answer, and answers a failed login 200 `{status: 'fail'}` (with that cookie). Its sign-up answers the same
 * whether the name was free; a password change only sends a confirmation mail (202); the fixed twin never replaces an account, the vulnerable one replaces the password
 * of an existing name (an upsert: the re-registration takeover). A failed login is no sign-in: no takeover on
 * the fixed twin.
 */
const FLASK_SPEC = {
  openapi: '3.0.3',
  info: { title: 'notes', version: '1' },
  components: { securitySchemes: { c: { type: 'apiKey', in: 'cookie', name: 'session' } } },
  security: [{ c: [] }],
  paths: {
    '/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: json({
          username: { type: 'string' },
          email: { type: 'string' },
          password: { type: 'string' },
        }),
        responses: ok,
      },
    },
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: ok,
      },
    },
    '/profile': { get: { operationId: 'profile', responses: ok } },
    '/profile/password': {
      post: {
        operationId: 'changePassword',
        requestBody: json({ current_password: { type: 'string' }, new_password: { type: 'string' } }),
        responses: { '202': { description: 'confirmation mail sent' } },
      },
    },
    '/logout': { post: { operationId: 'logout', responses: ok } },
  },
};

async function startFlask(fixed: boolean): Promise<Api> {
  const users = new Map<number, User>();
  users.set(1, { id: 1, username: 'ines', password: 'ines-pw-90' });
  users.set(2, { id: 2, username: 'tom', password: 'tom-pw-91' });
  const sessions = new Map<string, { user?: number }>();
  const log: string[] = [];
  const byName = (n: unknown) => [...users.values()].find((u) => u.username === n);
  const api = await startServer(async (req, res) => {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    const sid = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    let session = sid === undefined ? undefined : sessions.get(sid);
    const headers: Record<string, string> = {};
    const fresh = () => {
      const n = randomBytes(12).toString('hex');
      session = {};
      sessions.set(n, session);
      headers['set-cookie'] = `session=${n}; Path=/; HttpOnly`;
      return session;
    };
    if (!session) fresh();
    if (req.method === 'POST' && path === '/signup') {
      const { username, password } = body;
      // The fixed twin also refuses short passwords, silently (the same answer), as its sign-up says nothing.
      const strong = typeof password === 'string' && (!fixed || password.length >= 8);
      if (typeof username === 'string' && username !== '' && strong) {
        const old = byName(username);
        if (!old) users.set(users.size + 1, { id: users.size + 1, username, password });
        else if (!fixed) {
          log.push(`${username} replaced`);
          old.password = password;
        }
      }
      return send(res, 200, { message: 'If the name was free, your account is ready.' }, headers);
    }
    if (req.method === 'POST' && path === '/login') {
      const u = byName(body.username);
      if (!u || u.password !== body.password)
        return send(res, 200, { status: 'fail', message: 'Invalid credentials' }, headers);
      fresh().user = u.id;
      return send(res, 200, { status: 'ok', user: { id: u.id, username: u.username } }, headers);
    }
    const me = session?.user === undefined ? undefined : users.get(session.user);
    if (!me) return send(res, 401, { error: 'login required' }, headers);
    if (req.method === 'GET' && path === '/profile')
      return send(res, 200, { id: me.id, username: me.username }, headers);
    if (req.method === 'POST' && path === '/profile/password')
      return send(res, 202, { message: 'We sent you an e-mail to confirm the change.' }, headers);
    if (req.method === 'POST' && path === '/logout') {
      if (session) session.user = undefined;
      return send(res, 200, { message: 'bye' }, headers);
    }
    return send(res, 404, { error: 'not found' }, headers);
  });
  return { url: api.url, server: api.server, users, log };
}

describe('F1: a failed login answered 200 with a fresh cookie signs no one in', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Api>>>;
  before(async () => {
    scans = await scanTwins(FLASK_SPEC, startFlask, {
      identities: [identity('ines', 'ines-pw-90', '/login'), identity('tom', 'tom-pw-91', '/login')],
      checks: ['API1', 'API2'],
      ratePerSecond: 200,
    });
  });
  const rules = (r: ScanResult) => r.findings.map((f) => f.rule.id);

  test('no takeover on the twin whose sign-up never replaces an account', () => {
    assert.ok(
      !rules(scans.fixed.result).includes('scan/api1-account-takeover'),
      String(rules(scans.fixed.result)),
    );
  });

  test('a weak password the sign-up silently refused is no weak policy: the failed login signs no one in', () => {
    assert.ok(
      !rules(scans.fixed.result).includes('scan/api2-weak-password-policy'),
      String(rules(scans.fixed.result)),
    );
    assert.ok(rules(scans.vulnerable.result).includes('scan/api2-weak-password-policy'));
  });

  test('the re-registration takeover is still found where the sign-up replaces the password', () => {
    assert.ok(
      rules(scans.vulnerable.result).includes('scan/api1-account-takeover'),
      `${rules(scans.vulnerable.result)} ${scans.vulnerable.api.log}`,
    );
    assert.equal(scans.vulnerable.api.users.get(1)?.password, 'ines-pw-90');
  });
});
