import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A community choir's API. Members join with `POST /members/join {nickname, email, secret}`, sign in on the web at
 * `POST /members/session {email, secret}` (answers `{"session_token": ...}`), and in the rehearsal app at
 * `POST /app/v2/sign-in {nickname, secret}` (same kind of answer). Tokens go back as
 * `Authorization: Bearer`. Failures are `{"problem": ...}`.
 *
 * The web login answers every failure alike (401 "wrong e-mail or secret"), on both twins.
 * Vulnerable: the app login tells an unknown nickname (404 "no such nickname") from a wrong secret (401),
 * joining with a taken e-mail or nickname answers 409 "already registered" where a new one gets 201, and the
 * reset request `POST /members/forgot?email=` answers 404 "no member with that e-mail" for an unknown address.
 * Fixed twin: the app login answers 401 "wrong nickname or secret" to both, and joining answers 202
 * "welcome: check your inbox" whether or not the account existed (creating it only when it did not), and the
 * reset request answers 200 alike.
 */
interface Singer {
  nickname: string;
  email: string;
  secret: string;
  part: string;
}
const SEED: Singer[] = [
  { nickname: 'alto_rosa', email: 'rosa@choir.test', secret: 'Rosa-sings-alto-44', part: 'alto' },
  { nickname: 'bass_emil', email: 'emil@choir.test', secret: 'Emil-sings-bass-71', part: 'bass' },
];

function startChoir(fixed: boolean) {
  const singers = SEED.map((s) => ({ ...s }));
  const sessions = new Map<string, Singer>();
  const resets: string[] = [];
  const open = (res: Parameters<typeof sendJson>[0], s: Singer) => {
    const token = randomBytes(18).toString('hex');
    sessions.set(token, s);
    return sendJson(res, 200, { session_token: token });
  };
  const server = startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/members/join') {
      const b = await readJson(req);
      const nickname = String(b?.nickname ?? '');
      const email = String(b?.email ?? '');
      const secret = String(b?.secret ?? '');
      if (!nickname || !email || secret.length < 8)
        return sendJson(res, 400, { problem: 'nickname, email, secret' });
      const taken = singers.some((s) => s.nickname === nickname || s.email === email);
      if (!taken) singers.push({ nickname, email, secret, part: 'unassigned' });
      if (fixed) return sendJson(res, 202, { note: 'welcome: check your inbox' });
      if (taken) return sendJson(res, 409, { problem: 'that nickname or e-mail is already registered' });
      return sendJson(res, 201, { joined: nickname, part: 'unassigned' });
    }
    if (req.method === 'POST' && url.pathname === '/members/forgot') {
      // The e-mail in the query string; nothing is mailed here, the request is only recorded.
      const email = url.searchParams.get('email') ?? '';
      resets.push(email);
      const known = singers.some((s) => s.email === email);
      if (fixed || known)
        return sendJson(res, 200, {
          note: fixed ? 'if that address is ours, a link is on its way' : 'reset link sent',
        });
      return sendJson(res, 404, { problem: 'no member with that e-mail' });
    }
    if (req.method === 'POST' && url.pathname === '/members/session') {
      const b = await readJson(req);
      const s = singers.find((x) => x.email === b?.email && x.secret === b?.secret);
      return s ? open(res, s) : sendJson(res, 401, { problem: 'wrong e-mail or secret' });
    }
    if (req.method === 'POST' && url.pathname === '/app/v2/sign-in') {
      const b = await readJson(req);
      const s = singers.find((x) => x.nickname === b?.nickname);
      if (!s && !fixed) return sendJson(res, 404, { problem: 'no such nickname' });
      if (!s || s.secret !== b?.secret)
        return sendJson(res, 401, { problem: fixed ? 'wrong nickname or secret' : 'wrong secret' });
      return open(res, s);
    }
    const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const me = token ? sessions.get(token) : undefined;
    if (!me) return sendJson(res, 401, { problem: 'sign in first' });
    if (req.method === 'GET' && url.pathname === '/members/me')
      return sendJson(res, 200, { nickname: me.nickname, email: me.email, part: me.part });
    return sendJson(res, 404, { problem: 'nothing here' });
  });
  return server.then((s) => Object.assign(s, { resets }));
}

const jsonBody = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'choir', version: '3.2.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/members/join': {
      post: {
        operationId: 'join',
        requestBody: jsonBody({
          nickname: { type: 'string' },
          email: { type: 'string', format: 'email' },
          secret: { type: 'string' },
        }),
        responses: { '201': { description: 'joined' }, '409': { description: 'taken' } },
      },
    },
    '/members/forgot': {
      post: {
        operationId: 'forgot',
        parameters: [
          { name: 'email', in: 'query', required: true, schema: { type: 'string', format: 'email' } },
        ],
        responses: { '200': { description: 'a link is sent' } },
      },
    },
    '/members/session': {
      post: {
        operationId: 'webSession',
        requestBody: jsonBody({ email: { type: 'string' }, secret: { type: 'string' } }),
        responses: { '200': { description: 'a session token' } },
      },
    },
    '/app/v2/sign-in': {
      post: {
        operationId: 'rehearsalApp',
        requestBody: jsonBody({ nickname: { type: 'string' }, secret: { type: 'string' } }),
        responses: { '200': { description: 'a session token' } },
      },
    },
    '/members/me': {
      get: { operationId: 'me', security: [{ bearer: [] }], responses: { '200': { description: 'me' } } },
    },
  },
};

const identity = (s: Singer) => ({
  name: s.nickname,
  login: { path: '/members/session', body: { email: s.email, secret: s.secret } },
});

const enumerations = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api2-user-enumeration')
    .map((f) => f.operation?.operationId)
    .sort();

describe('user enumeration at a second login and at the sign-up, not only at the identities own login', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const resets = {} as Record<'vulnerable' | 'fixed', string[]>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startChoir(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map(identity),
          checks: ['API2'],
          ratePerSecond: 300,
        });
        resets[kind] = api.resets;
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: the app login and the sign-up tell who has an account; the web login does not', () => {
    assert.deepEqual(
      enumerations(runs.vulnerable),
      ['forgot', 'join', 'rehearsalApp'],
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test('fixed twin: no user enumeration', () => {
    assert.deepEqual(enumerations(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });

  test("the reset requests named only addresses of the scan's own", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.ok(resets[kind].length > 0, kind);
      for (const email of resets[kind]) assert.match(email, /^pc[\w-]*@example\.com$/, `${kind}: ${email}`);
    }
  });

  test("the given singers' secrets still work after both scans", () => {
    // Each scan ran against a fresh API; what matters is that no probe signed a given singer up again or
    // changed a secret: the scans' own accounts are all pc-prefixed.
    for (const r of Object.values(runs))
      for (const f of r.findings.filter((x) => x.rule.id === 'scan/api2-user-enumeration'))
        assert.doesNotMatch(JSON.stringify(f.evidence), /Rosa-sings|Emil-sings/);
  });
});
