import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A wallet app's profile in an Express-like style (`{"error": {"code", "message"}}`). `GET /v1/me` shows the
 * caller's record with its role, e-mail verification and balance; `PATCH /v1/me` documents only the name and the
 * phone but, careless, merges any member it is sent. With `signup`, `POST /v1/auth/signup` makes accounts and
 * `DELETE /v1/me` closes one.
 * Every write is logged (who, body): what the scan sent into whose record is the evidence.
 */
const json = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
function spec(signup: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'wallet', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/v1/auth/login': {
        post: {
          operationId: 'login',
          security: [],
          requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }),
          responses: { '200': { description: 'a token' }, '401': { description: 'no' } },
        },
      },
      ...(signup
        ? {
            '/v1/auth/signup': {
              post: {
                operationId: 'signup',
                security: [],
                requestBody: json({
                  email: { type: 'string', format: 'email' },
                  password: { type: 'string' },
                  name: { type: 'string' },
                }),
                responses: { '201': { description: 'the account' } },
              },
            },
          }
        : {}),
      '/v1/me': {
        get: { operationId: 'me', responses: { '200': { description: 'the caller' } } },
        patch: {
          operationId: 'updateMe',
          requestBody: json({ name: { type: 'string' }, phone: { type: 'string' } }),
          responses: { '200': { description: 'the caller' } },
        },
        ...(signup
          ? { delete: { operationId: 'closeMe', responses: { '204': { description: 'closed' } } } }
          : {}),
      },
    },
  };
}

interface Person {
  id: number;
  email: string;
  password: string;
  name: string;
  phone: string;
  role: string;
  verified: boolean;
  balanceCents: number;
}
const GIVEN: Person[] = [
  {
    id: 1,
    email: 'ada@wallet.test',
    password: 'Ada-pw-8811',
    name: 'Ada Lovelace',
    phone: '+44 20 7946 0001',
    role: 'user',
    verified: true,
    balanceCents: 12500,
  },
  {
    id: 2,
    email: 'bob@wallet.test',
    password: 'Bob-pw-8812',
    name: 'Bob Builder',
    phone: '+44 20 7946 0002',
    role: 'user',
    verified: true,
    balanceCents: 30000,
  },
];

function startWallet(signup: boolean) {
  const people = new Map<number, Person>(GIVEN.map((p) => [p.id, { ...p }]));
  const tokens = new Map<string, number>();
  const writes: { who: string; body: Record<string, unknown> }[] = [];
  let next = 50;
  const view = ({ password: _p, ...p }: Person) => p;
  const api = startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://wallet').pathname;
    const fail = (status: number, code: string, message: string) =>
      sendJson(res, status, { error: { code, message } });
    if (req.method === 'POST' && path === '/v1/auth/login') {
      const p = [...people.values()].find((x) => x.email === body.email && x.password === body.password);
      if (!p) return fail(401, 'bad_credentials', 'wrong e-mail or password');
      const token = randomBytes(12).toString('hex');
      tokens.set(token, p.id);
      return sendJson(res, 200, { token });
    }
    if (signup && req.method === 'POST' && path === '/v1/auth/signup') {
      if (typeof body.email !== 'string' || typeof body.password !== 'string')
        return fail(400, 'invalid', 'email and password are required');
      if ([...people.values()].some((p) => p.email === body.email)) return fail(409, 'taken', 'e-mail taken');
      const p: Person = {
        id: next++,
        email: body.email,
        password: body.password,
        name: String(body.name ?? ''),
        phone: '',
        role: 'user',
        verified: false,
        balanceCents: 0,
      };
      people.set(p.id, p);
      return sendJson(res, 201, view(p));
    }
    const me = people.get(tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? -1);
    if (!me) return fail(401, 'unauthenticated', 'sign in first');
    if (path !== '/v1/me') return fail(404, 'not_found', 'no such route');
    if (req.method === 'GET') return sendJson(res, 200, view(me));
    if (req.method === 'PATCH') {
      writes.push({ who: me.email, body });
      const { id: _id, email: _e, password: _p, ...rest } = body;
      Object.assign(me, rest);
      return sendJson(res, 200, view(me));
    }
    if (signup && req.method === 'DELETE') {
      people.delete(me.id);
      res.writeHead(204);
      return res.end();
    }
    return fail(405, 'method', 'method not allowed');
  });
  return api.then((a) => Object.assign(a, { people, writes }));
}

const signIn = (p: Person) => ({
  name: p.name.split(' ')[0].toLowerCase(),
  login: { path: '/v1/auth/login', body: { email: p.email, password: p.password } },
});

async function scanWallet(signup: boolean) {
  const api = await startWallet(signup);
  try {
    const result = await scanDocument(spec(signup), api.url, {
      identities: GIVEN.map(signIn),
      ratePerSecond: 200,
      checks: ['API3'],
    });
    return { api, result };
  } finally {
    api.server.close();
  }
}

describe('API3 never writes a given identity’s money or account state, and sets back its own account', () => {
  let plain: Awaited<ReturnType<typeof scanWallet>>;
  let withSignup: Awaited<ReturnType<typeof scanWallet>>;
  before(async () => {
    plain = await scanWallet(false);
    withSignup = await scanWallet(true);
  });

  test('no write into ada’s or bob’s record carries a balance or a verification flag', () => {
    for (const run of [plain, withSignup]) {
      const given = run.api.writes.filter((w) => GIVEN.some((g) => g.email === w.who));
      for (const w of given)
        assert.deepEqual(
          Object.keys(w.body).filter((k) => /balance|verified/i.test(k)),
          [],
          `${w.who}: ${JSON.stringify(w.body)}`,
        );
      for (const g of GIVEN) {
        const now = run.api.people.get(g.id)!;
        assert.equal(now.balanceCents, g.balanceCents);
        assert.equal(now.verified, g.verified);
        assert.equal(now.role, g.role);
      }
    }
  });

  test('without a sign-up, the coverage says the money and account state were left out', () => {
    assert.match(JSON.stringify(plain.result.coverage), /balanceCents[^"]*its money or account state/);
  });

  test('with a sign-up, the scan’s own account is probed, set back, and no reset by hand is asked for it', () => {
    const own = withSignup.api.writes.filter((w) => !GIVEN.some((g) => g.email === w.who));
    const raised = own.findIndex((w) => w.body.role === 'admin');
    assert.ok(raised >= 0, JSON.stringify(own));
    assert.ok(
      own.slice(raised + 1).some((w) => w.who === own[raised].who && w.body.role === 'user'),
      `the role set back reached the API: ${JSON.stringify(own.slice(raised))}`,
    );
    assert.ok(
      withSignup.result.findings.some((f) => f.rule.id === 'scan/api3-mass-assignment'),
      'the mass assignment is found on the scan’s own account',
    );
    assert.ok(
      !withSignup.result.warnings.some((w) => /by hand/.test(w) && /pc\w+/.test(w)),
      withSignup.result.warnings.join('\n'),
    );
  });
});
