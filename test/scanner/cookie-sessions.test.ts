import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson, startPythonApi } from './small-api.ts';
import { scanDocument, scanTwins } from './twins.ts';

/**
 * Cookie sessions in two styles the scanner's fixtures do not use.
 *
 * 1. A quilting guild, JSON: `POST /session/new {handle, passphrase}` answers `{"ok": true}` and sets the cookie
 *    `guild`, the base64 of `{"member": "ines", "uid": 7, "rank": "member"}`, with no HttpOnly; `GET /whoami`,
 *    `GET /quilts` (the caller's own) and `GET /guild/treasury` (rank `admin` only) read whatever member and rank
 *    the cookie names. Fixed twin: the cookie is a random id of a session the server keeps, HttpOnly, SameSite=Lax.
 * 2. A PHP-style bank, form login: `POST /login.php` (form fields) answers 302 to `/account.php` and sets
 *    `PHPSESSID` (random) and `acct` (the account's number) with `SameSite=None` and no Secure nor HttpOnly;
 *    `/account.php` is an HTML page for the account `acct` names, when any PHPSESSID the server issued comes
 *    with it. Fixed twin: the account is the session's, `acct` is not read, the cookies are HttpOnly and Lax.
 * Both have a logout; the guild's unsigned cookie cannot be ended by it.
 */

const json = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } });
const str = { type: 'string' };
const ok = { '200': { description: 'ok' } };
const GUILD_SPEC = {
  openapi: '3.0.3',
  info: { title: 'guild', version: '1' },
  components: { securitySchemes: { c: { type: 'apiKey', in: 'cookie', name: 'guild' } } },
  security: [{ c: [] }],
  paths: {
    '/session/new': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ type: 'object', properties: { handle: str, passphrase: str } }),
        responses: ok,
      },
    },
    '/session/end': { post: { operationId: 'signOut', responses: ok } },
    '/whoami': { get: { operationId: 'whoami', responses: ok } },
    '/quilts': { get: { operationId: 'myQuilts', responses: ok } },
    '/guild/treasury': { get: { operationId: 'treasury', responses: ok } },
  },
};

interface Member {
  readonly uid: number;
  readonly handle: string;
  readonly passphrase: string;
  readonly rank: string;
  readonly quilts: readonly string[];
}
const MEMBERS: readonly Member[] = [
  {
    uid: 7,
    handle: 'ines',
    passphrase: 'ines-needle-77',
    rank: 'member',
    quilts: ['Log Cabin', 'Flying Geese'],
  },
  {
    uid: 8,
    handle: 'tomas',
    passphrase: 'tomas-thimble-88',
    rank: 'member',
    quilts: ['Double Wedding Ring'],
  },
  { uid: 1, handle: 'warden', passphrase: 'warden-spool-11', rank: 'admin', quilts: [] },
];

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

async function startGuild(fixed: boolean) {
  const sessions = new Map<string, Member>();
  const who = (req: IncomingMessage): { uid: number; handle: string; rank: string } | undefined => {
    const c = cookies(req).get('guild');
    if (!c) return undefined;
    if (fixed) {
      const m = sessions.get(c);
      return m ? { uid: m.uid, handle: m.handle, rank: m.rank } : undefined;
    }
    try {
      const v = JSON.parse(Buffer.from(c, 'base64').toString('utf8')) as Record<string, unknown>;
      if (typeof v.member !== 'string' || typeof v.uid !== 'number' || typeof v.rank !== 'string')
        return undefined;
      return { uid: v.uid, handle: v.member, rank: v.rank };
    } catch {
      return undefined;
    }
  };
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/session/new') {
      let v: Record<string, unknown> = {};
      try {
        v = JSON.parse(body);
      } catch {
        return sendJson(res, 400, { error: 'bad json' });
      }
      const m = MEMBERS.find((x) => x.handle === v.handle && x.passphrase === v.passphrase);
      if (!m) return sendJson(res, 401, { error: 'unknown handle or passphrase' });
      let cookie: string;
      if (fixed) {
        const id = randomBytes(18).toString('hex');
        sessions.set(id, m);
        cookie = `guild=${id}; Path=/; HttpOnly; SameSite=Lax`;
      } else {
        const v64 = Buffer.from(JSON.stringify({ member: m.handle, uid: m.uid, rank: m.rank })).toString(
          'base64',
        );
        cookie = `guild=${v64}; Path=/`;
      }
      return sendJson(res, 200, { ok: true }, { 'content-type': 'application/json', 'set-cookie': cookie });
    }
    const me = who(req);
    if (!me) return sendJson(res, 401, { error: 'sign in first' });
    const member = MEMBERS.find((m) => m.handle === me.handle && m.uid === me.uid);
    if (req.method === 'POST' && path === '/session/end') {
      if (fixed) sessions.delete(cookies(req).get('guild') ?? '');
      return sendJson(
        res,
        200,
        { ok: true },
        { 'content-type': 'application/json', 'set-cookie': 'guild=; Max-Age=0; Path=/' },
      );
    }
    if (req.method === 'GET' && path === '/whoami')
      return sendJson(res, 200, { uid: me.uid, handle: me.handle, rank: me.rank });
    if (req.method === 'GET' && path === '/quilts')
      return sendJson(res, 200, {
        quilts: (member?.quilts ?? []).map((title, i) => ({ id: me.uid * 10 + i, title })),
      });
    if (req.method === 'GET' && path === '/guild/treasury') {
      if (me.rank !== 'admin') return sendJson(res, 403, { error: 'wardens only' });
      return sendJson(res, 200, { balance: 4120, dues: [{ handle: 'ines', paid: true }] });
    }
    return sendJson(res, 404, { error: 'no such page' });
  });
}

const GUILD_RULES = [
  'scan/api2-invalid-token-accepted',
  'scan/api8-insecure-session-cookie',
  'scan/api2-session-not-ended',
];
const mine = (r: ScanResult, rules: readonly string[]) =>
  r.findings
    .filter((f) => rules.includes(f.rule.id))
    .map((f) => `${f.rule.id} ${f.operation?.operationId ?? '(api)'}`)
    .sort();

const login = (path: string, body: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  path,
  body,
  ...extra,
});

describe('cookie sessions: a readable guild cookie (JSON login, base64 JSON cookie)', () => {
  let results: Awaited<ReturnType<typeof scanTwins>>;
  before(async () => {
    results = await scanTwins(
      GUILD_SPEC,
      async (fixed) => {
        const api = await startGuild(fixed);
        return { url: api.url, server: api.server };
      },
      {
        identities: MEMBERS.slice(0, 2).map((m) => ({
          name: m.handle,
          login: login('/session/new', { handle: m.handle, passphrase: m.passphrase }),
        })),
        admin: {
          name: 'warden',
          login: login('/session/new', { handle: 'warden', passphrase: 'warden-spool-11' }),
        },
        checks: ['API2', 'API8'],
        ratePerSecond: 200,
      },
    );
  });

  test('vulnerable: the swapped member and the raised rank are accepted, the cookie has no HttpOnly', () => {
    const found = mine(results.vulnerable.result, GUILD_RULES);
    assert.ok(
      found.includes('scan/api2-invalid-token-accepted whoami') ||
        found.includes('scan/api2-invalid-token-accepted myQuilts'),
      found.join('\n'),
    );
    assert.ok(found.includes('scan/api2-invalid-token-accepted treasury'), found.join('\n'));
    assert.ok(found.includes('scan/api8-insecure-session-cookie signIn'), found.join('\n'));
    // The logout cannot end an unsigned cookie (B's second session, a cookie named like no session cookie).
    assert.ok(found.includes('scan/api2-session-not-ended signOut'), found.join('\n'));
    const flags = results.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api8-insecure-session-cookie',
    );
    assert.equal(flags.length, 1, 'one finding per cookie name');
    assert.match(String(flags[0].evidence?.secure), /not judged/);
    const swap = results.vulnerable.result.findings.find(
      (f) => f.fingerprint && /cookie guild with ines/.test(f.message),
    );
    assert.ok(swap, 'the swap names the cookie and the identities');
  });

  test('fixed twin: no cookie finding at all', () => {
    assert.deepEqual(mine(results.fixed.result, GUILD_RULES), []);
  });
});

// ------------------------------------------------------------------------------------------------------------

const form = (props: Record<string, unknown>) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: props } } },
});
const html = { '200': { description: 'page', content: { 'text/html': { schema: str } } } };
const BANK_SPEC = {
  openapi: '3.0.3',
  info: { title: 'bank', version: '1' },
  paths: {
    '/login.php': {
      post: {
        operationId: 'login',
        requestBody: form({ username: str, password: str }),
        responses: { '302': { description: 'to the account' } },
      },
    },
    '/account.php': { get: { operationId: 'account', responses: html } },
    '/logout.php': { get: { operationId: 'logout', responses: html } },
  },
};
const CUSTOMERS = [
  { acct: 1041, username: 'marta', password: 'marta-pw-2041', balance: '1,200.00' },
  { acct: 1042, username: 'olek', password: 'olek-pw-2042', balance: '87.15' },
];

async function startBank(fixed: boolean) {
  const sessions = new Map<string, number>();
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    const page = (status: number, text: string, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      res.end(`<!doctype html><html><body>${text}</body></html>`);
    };
    if (req.method === 'POST' && path === '/login.php') {
      const f = new URLSearchParams(body);
      const c = CUSTOMERS.find((x) => x.username === f.get('username') && x.password === f.get('password'));
      if (!c) return page(200, '<p class="err">Wrong user name or password</p><form method="post"></form>');
      const sid = randomBytes(13).toString('hex');
      sessions.set(sid, c.acct);
      const flags = fixed ? '; path=/; HttpOnly; SameSite=Lax' : '; path=/; SameSite=None';
      return page(302, 'moved', {
        location: '/account.php',
        'set-cookie': [`PHPSESSID=${sid}${flags}`, `acct=${c.acct}${flags}`],
      });
    }
    const jar = cookies(req);
    const session = sessions.get(jar.get('PHPSESSID') ?? '');
    if (session === undefined)
      return page(200, '<h1>Sign in</h1><form method="post" action="/login.php"></form>');
    if (path === '/logout.php') {
      sessions.delete(jar.get('PHPSESSID') ?? '');
      return page(200, '<p>Signed out</p>');
    }
    if (path === '/account.php') {
      const acct = fixed ? session : Number(jar.get('acct') ?? session);
      const c = CUSTOMERS.find((x) => x.acct === acct);
      if (!c) return page(200, '<p>No such account</p>');
      return page(200, `<h1>Welcome, ${c.username}</h1><p>Account ${c.acct}</p><p>Balance: ${c.balance}</p>`);
    }
    return page(404, 'not found');
  });
}

describe('cookie sessions: a PHP-style bank (form login, 302, an account number cookie beside PHPSESSID)', () => {
  let results: Awaited<ReturnType<typeof scanTwins>>;
  before(async () => {
    results = await scanTwins(
      BANK_SPEC,
      async (fixed) => {
        const api = await startBank(fixed);
        return { url: api.url, server: api.server };
      },
      {
        identities: CUSTOMERS.map((c) => ({
          name: c.username,
          login: login('/login.php', { username: c.username, password: c.password }, { encoding: 'form' }),
        })),
        checks: ['API2', 'API8'],
        ratePerSecond: 200,
      },
    );
  });

  test('vulnerable: the account number swapped in its cookie reads the other page; SameSite=None without Secure', () => {
    const found = mine(results.vulnerable.result, GUILD_RULES);
    assert.ok(found.includes('scan/api2-invalid-token-accepted account'), found.join('\n'));
    const flags = results.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api8-insecure-session-cookie',
    );
    // acct is no session cookie: without it the page still answers (the session's own account).
    assert.deepEqual(flags.map((f) => f.evidence?.cookie).sort(), ['PHPSESSID']);
    // The forged cookie is shown (nothing of marta's secret in it); PHPSESSID stays $COOKIE's.
    const swap = results.vulnerable.result.findings.find(
      (f) => f.rule.id === 'scan/api2-invalid-token-accepted',
    );
    assert.equal(swap?.evidence?.forgedCookie, 'acct=1042');
    assert.match(String(swap?.evidence?.reproduce), /PHPSESSID/);
    assert.ok(flags.every((f) => /SameSite=None without Secure/.test(f.message)));
  });

  test('fixed twin: no cookie finding at all', () => {
    assert.deepEqual(mine(results.fixed.result, GUILD_RULES), []);
  });
});

// ------------------------------------------------------------------------------------------------------------

const GYM_SPEC = {
  openapi: '3.1.0',
  info: { title: 'gym', version: '2' },
  paths: {
    '/api/v2/auth': {
      post: {
        operationId: 'authenticate',
        requestBody: json({
          type: 'object',
          properties: { email: str, password: str },
          required: ['email', 'password'],
        }),
        responses: { '200': { description: 'welcome' }, '401': { description: 'no' } },
      },
    },
    '/api/v2/profile': { get: { operationId: 'profile', responses: ok } },
    '/api/v2/admin/stats': { get: { operationId: 'stats', responses: ok } },
  },
};
const ATHLETES = [
  { email: 'ines@gym.test', password: 'ines-squat-31', name: 'Ines', plan: 'gold', role: 'customer' },
  { email: 'tomas@gym.test', password: 'tomas-squat-32', name: 'Tomas', plan: 'basic', role: 'customer' },
  { email: 'coach@gym.test', password: 'coach-squat-33', name: 'Coach', plan: 'staff', role: 'admin' },
];

async function startGym(fixed: boolean) {
  const key = randomBytes(32);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const sign = (input: string) => createHmac('sha256', key).update(input).digest('base64url');
  const verify = (token: string): Record<string, unknown> | undefined => {
    const [h, p, sig] = token.split('.');
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      // The vulnerable verifier takes the token's own word for its algorithm.
      if (!fixed && header.alg === 'none') return payload;
      if (header.alg !== 'HS256' || sig !== sign(`${h}.${p}`)) return undefined;
      return payload;
    } catch {
      return undefined;
    }
  };
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/v2/auth') {
      let v: Record<string, unknown> = {};
      try {
        v = JSON.parse(body);
      } catch {
        return sendJson(res, 400, { title: 'bad body' });
      }
      const a = ATHLETES.find((x) => x.email === v.email && x.password === v.password);
      if (!a) return sendJson(res, 401, { title: 'wrong e-mail or password' });
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: a.email, role: a.role, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
      const flags = fixed ? 'HttpOnly; SameSite=Strict' : 'HttpOnly; SameSite=None';
      return sendJson(
        res,
        200,
        { welcome: a.name },
        {
          'content-type': 'application/json',
          'set-cookie': `jwt=${input}.${sign(input)}; Path=/; ${flags}`,
        },
      );
    }
    const claims = verify(cookies(req).get('jwt') ?? '');
    const a = ATHLETES.find((x) => x.email === claims?.sub);
    if (!claims || !a) return sendJson(res, 401, { title: 'sign in' });
    if (req.method === 'GET' && path === '/api/v2/profile')
      return sendJson(res, 200, { email: a.email, name: a.name, plan: a.plan });
    if (req.method === 'GET' && path === '/api/v2/admin/stats') {
      if (claims.role !== 'admin') return sendJson(res, 403, { title: 'staff only' });
      return sendJson(res, 200, { members: 3, revenue: 1290 });
    }
    return sendJson(res, 404, { title: 'not found' });
  });
}

describe('cookie sessions: a JWT in a cookie whose verifier takes alg none (JSON login, no token in the body)', () => {
  let results: Awaited<ReturnType<typeof scanTwins>>;
  before(async () => {
    const who = (a: (typeof ATHLETES)[number]) => ({
      name: a.name.toLowerCase(),
      login: login('/api/v2/auth', { email: a.email, password: a.password }),
    });
    results = await scanTwins(
      GYM_SPEC,
      async (fixed) => {
        const api = await startGym(fixed);
        return { url: api.url, server: api.server };
      },
      {
        identities: ATHLETES.slice(0, 2).map(who),
        admin: who(ATHLETES[2]),
        checks: ['API2', 'API8'],
        ratePerSecond: 200,
      },
    );
  });

  test('vulnerable: the unsigned cookie with the other e-mail, and with role admin, is accepted; SameSite=None without Secure', () => {
    const found = mine(results.vulnerable.result, GUILD_RULES);
    assert.ok(found.includes('scan/api2-invalid-token-accepted profile'), found.join('\n'));
    assert.ok(found.includes('scan/api2-invalid-token-accepted stats'), found.join('\n'));
    assert.ok(found.includes('scan/api8-insecure-session-cookie authenticate'), found.join('\n'));
    const swap = results.vulnerable.result.findings.find(
      (f) => f.rule.id === 'scan/api2-invalid-token-accepted',
    );
    assert.match(String(swap?.evidence?.encoding), /alg: none/);
  });

  test('fixed twin: no cookie finding at all', () => {
    assert.deepEqual(mine(results.fixed.result, GUILD_RULES), []);
  });
});

// ------------------------------------------------------------------------------------------------------------

const NOTES_SPEC = {
  openapi: '3.0.0',
  info: { title: 'notes', version: '1' },
  paths: {
    '/signin': {
      post: {
        operationId: 'signin',
        requestBody: form({ username: str, password: str }),
        responses: { '204': { description: 'in' } },
      },
    },
    '/notes': { get: { operationId: 'notes', responses: ok } },
  },
};
const WRITERS = [
  {
    username: 'ana',
    password: 'ana-pen-51',
    notes: ['buy flour', 'call the plumber', 'return the library books'],
  },
  { username: 'ben', password: 'ben-pen-52', notes: ['renew passport'] },
];

/** Every caller gets 200: an anonymous one an empty list, a signed-in one its own notes (which never name it). */
async function startNotes(fixed: boolean, tls?: { key: string; cert: string }) {
  const sessions = new Map<string, (typeof WRITERS)[number]>();
  // On https both twins are HttpOnly and Lax, and only the fixed one is Secure.
  const flags = tls
    ? `; httponly; samesite=lax${fixed ? '; secure' : ''}`
    : fixed
      ? '; httponly; samesite=lax'
      : '';
  return startServer(
    async (req: IncomingMessage, res: ServerResponse) => {
      const body = await readText(req);
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/signin') {
        const f = new URLSearchParams(body);
        const w = WRITERS.find((x) => x.username === f.get('username') && x.password === f.get('password'));
        if (!w) return sendJson(res, 401, { reason: 'no' });
        const sid = randomBytes(16).toString('base64url');
        sessions.set(sid, w);
        res.writeHead(204, {
          'set-cookie': `koa.sess=${sid}; path=/${flags}`,
        });
        return res.end();
      }
      const w = sessions.get(cookies(req).get('koa.sess') ?? '');
      if (req.method === 'GET' && path === '/notes')
        return sendJson(res, 200, {
          notes: (w?.notes ?? []).map((text, i) => ({ n: i + 1, text, pinned: i === 0 })),
          ...(w ? {} : { hint: 'sign in to see your notes' }),
        });
      return sendJson(res, 404, { reason: 'none' });
    },
    tls ? { https: tls } : {},
  );
}

describe('cookie sessions: flags where an anonymous caller gets 200 too (its own empty list)', () => {
  let results: Awaited<ReturnType<typeof scanTwins>>;
  before(async () => {
    results = await scanTwins(
      NOTES_SPEC,
      async (fixed) => {
        const api = await startNotes(fixed);
        return { url: api.url, server: api.server };
      },
      {
        identities: WRITERS.map((w) => ({
          name: w.username,
          login: login('/signin', { username: w.username, password: w.password }, { encoding: 'form' }),
        })),
        checks: ['API8'],
        ratePerSecond: 200,
      },
    );
  });

  test('vulnerable: koa.sess is set without HttpOnly', () => {
    assert.deepEqual(mine(results.vulnerable.result, GUILD_RULES), [
      'scan/api8-insecure-session-cookie signin',
    ]);
  });

  test('fixed twin: no cookie finding at all', () => {
    assert.deepEqual(mine(results.fixed.result, GUILD_RULES), []);
  });
});

// ------------------------------------------------------------------------------------------------------------

const CLINIC_SPEC = {
  swagger: '2.0',
  info: { title: 'clinic', version: '1' },
  consumes: ['application/json'],
  produces: ['application/json'],
  paths: {
    '/auth/login': {
      post: {
        operationId: 'auth_login',
        parameters: [
          {
            name: 'body',
            in: 'body',
            required: true,
            schema: { type: 'object', properties: { username: str, password: str } },
          },
        ],
        responses: { '200': { description: 'signed in' } },
      },
    },
    '/patients/{uid}': {
      get: {
        operationId: 'patient_record',
        parameters: [{ name: 'uid', in: 'path', required: true, type: 'integer' }],
        responses: { '200': { description: 'the record' }, '403': { description: 'not yours' } },
      },
    },
  },
};

describe('cookie sessions: a readable cookie on an API whose only read names the record (Python http.server)', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startPythonApi('cookie-records-api.py', kind === 'fixed');
      try {
        results[kind] = await scanDocument(CLINIC_SPEC, api.url, {
          identities: [
            { name: 'ana', login: login('/auth/login', { username: 'ana', password: 'ana-clinic-61' }) },
            { name: 'ben', login: login('/auth/login', { username: 'ben', password: 'ben-clinic-62' }) },
          ],
          checks: ['API2'],
          ratePerSecond: 200,
        });
      } finally {
        api.child.kill();
        await once(api.child, 'exit');
      }
    }
  });

  test("vulnerable: ana's cookie with ben's uid and name reads ben's record, which ana's own cookie may not", () => {
    assert.deepEqual(mine(results.vulnerable, GUILD_RULES), [
      'scan/api2-invalid-token-accepted patient_record',
    ]);
    const f = results.vulnerable.findings.find((x) => x.rule.id === 'scan/api2-invalid-token-accepted');
    assert.equal(f?.evidence?.ownCookiesStatus, 403);
    assert.equal(f?.evidence?.altered, 'uid=6&name=ben&role=patient');
  });

  test('fixed twin: no cookie finding at all', () => {
    assert.deepEqual(mine(results.fixed, GUILD_RULES), []);
  });
});

describe('cookie sessions: on an https API, a session cookie without Secure', () => {
  let results: Awaited<ReturnType<typeof scanTwins>>;
  before(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-cookie-tls-'));
    let tls: { key: string; cert: string };
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          path.join(dir, 'k.pem'),
          '-out',
          path.join(dir, 'c.pem'),
          '-days',
          '30',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      tls = {
        key: await readFile(path.join(dir, 'k.pem'), 'utf8'),
        cert: await readFile(path.join(dir, 'c.pem'), 'utf8'),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    results = await scanTwins(
      NOTES_SPEC,
      async (fixed) => {
        const api = await startNotes(fixed, tls);
        return { url: api.url, server: api.server };
      },
      {
        identities: WRITERS.map((w) => ({
          name: w.username,
          login: login('/signin', { username: w.username, password: w.password }, { encoding: 'form' }),
        })),
        checks: ['API8'],
        ratePerSecond: 200,
        ca: tls.cert,
      },
    );
  });

  test('vulnerable: koa.sess is HttpOnly and Lax but not Secure', () => {
    assert.deepEqual(mine(results.vulnerable.result, GUILD_RULES), [
      'scan/api8-insecure-session-cookie signin',
    ]);
    const f = results.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api8-insecure-session-cookie',
    );
    assert.match(f?.message ?? '', /no Secure on an https API/);
    assert.doesNotMatch(f?.message ?? '', /HttpOnly:/);
    assert.equal(f?.evidence?.secure, false);
  });

  test('fixed twin: no cookie finding at all', () => {
    assert.deepEqual(mine(results.fixed.result, GUILD_RULES), []);
  });
});

// ------------------------------------------------------------------------------------------------------------

const STATEMENT_SPEC = {
  openapi: '3.0.3',
  info: { title: 'statements', version: '1' },
  paths: {
    '/login.php': {
      post: {
        operationId: 'login',
        requestBody: form({ email: str, password: str }),
        responses: { '200': { description: 'in' } },
      },
    },
    '/api/statement.php': {
      get: {
        operationId: 'statement',
        parameters: [
          { name: 'month', in: 'query', required: true, schema: { type: 'string', example: '2026-11' } },
        ],
        responses: ok,
      },
    },
  },
};
const HOLDERS = [
  {
    email: 'rui@bank.test',
    password: 'rui-pw-71',
    lines: [
      { day: 3, amount: -42.5 },
      { day: 9, amount: 1200 },
    ],
  },
  { email: 'eva@bank.test', password: 'eva-pw-72', lines: [{ day: 14, amount: -7.25 }] },
];

/** PHP-style: every answer starts a session (PHPSESSID); the only read asks for a month. */
async function startStatements(fixed: boolean) {
  const signedIn = new Map<string, (typeof HOLDERS)[number] | undefined>();
  const flags = fixed ? '; path=/; HttpOnly' : '; path=/';
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readText(req);
    const url = new URL(req.url ?? '/', 'http://x');
    let sid = cookies(req).get('PHPSESSID') ?? '';
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!signedIn.has(sid)) {
      sid = randomBytes(13).toString('hex');
      signedIn.set(sid, undefined);
      headers['set-cookie'] = `PHPSESSID=${sid}${flags}`;
    }
    const answer = (status: number, payload: unknown) => {
      res.writeHead(status, headers);
      res.end(JSON.stringify(payload));
    };
    if (req.method === 'POST' && url.pathname === '/login.php') {
      const f = new URLSearchParams(body);
      const h = HOLDERS.find((x) => x.email === f.get('email') && x.password === f.get('password'));
      if (!h) return answer(200, { error: 'Invalid email or password.' });
      // A new session id on sign-in.
      signedIn.delete(sid);
      sid = randomBytes(13).toString('hex');
      signedIn.set(sid, h);
      headers['set-cookie'] = `PHPSESSID=${sid}${flags}`;
      return answer(200, { ok: true, redirect: 'dashboard.php' });
    }
    const h = signedIn.get(sid);
    if (!h) return answer(401, { error: 'Unauthorized' });
    if (req.method === 'GET' && url.pathname === '/api/statement.php') {
      const month = url.searchParams.get('month');
      if (!month) return answer(400, { error: 'Missing month' });
      return answer(200, { holder: h.email, month, lines: h.lines });
    }
    return answer(404, { error: 'Not found' });
  });
}

describe('cookie sessions: flags where the only read requires a query input (PHP-style, a session on every answer)', () => {
  let results: Awaited<ReturnType<typeof scanTwins>>;
  before(async () => {
    results = await scanTwins(
      STATEMENT_SPEC,
      async (fixed) => {
        const api = await startStatements(fixed);
        return { url: api.url, server: api.server };
      },
      {
        identities: HOLDERS.map((h) => ({
          name: h.email.split('@')[0],
          login: login('/login.php', { email: h.email, password: h.password }, { encoding: 'form' }),
        })),
        checks: ['API8'],
        ratePerSecond: 200,
      },
    );
  });

  test('vulnerable: PHPSESSID is set without HttpOnly', () => {
    assert.deepEqual(mine(results.vulnerable.result, GUILD_RULES), [
      'scan/api8-insecure-session-cookie login',
    ]);
  });

  test('fixed twin: no cookie finding at all', () => {
    assert.deepEqual(mine(results.fixed.result, GUILD_RULES), []);
  });
});
