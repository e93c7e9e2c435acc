import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A team expenses API in camelCase (`ownerId`, `accessToken`), signing in by e-mail at `POST /api/sessions` for a
 * JWT whose `sub` is the member's number; refusals are 422 `{"errors": [...]}`. `POST /api/expenses` files an
 * expense: the vulnerable twin takes the `ownerId` the body names (anyone files expenses in anyone's name), the
 * fixed twin files it under the caller whatever the body says. Nothing lists members: each one's number is only
 * in its own token. `POST /api/kudos {userId, text}` thanks a teammate: the kudos shows in that teammate's `GET
 * /api/kudos`, on both twins, by design (a person field of a thing addressed to someone names whom it is for).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'team expenses', version: '1' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ jwt: [] }],
  paths: {
    '/api/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'a session' } },
      },
    },
    '/api/expenses': {
      get: { operationId: 'myExpenses', responses: { '200': { description: 'your expenses' } } },
      post: {
        operationId: 'fileExpense',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['title', 'amount'],
                properties: {
                  title: { type: 'string', maxLength: 80 },
                  amount: { type: 'number', minimum: 0 },
                  ownerId: { type: 'integer' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'filed' }, '422': { description: 'invalid' } },
      },
    },
    '/api/kudos': {
      get: { operationId: 'myKudos', responses: { '200': { description: 'kudos you were given' } } },
      post: {
        operationId: 'giveKudos',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['userId', 'text'],
                properties: { userId: { type: 'integer' }, text: { type: 'string', maxLength: 140 } },
              },
            },
          },
        },
        responses: { '201': { description: 'given' }, '422': { description: 'invalid' } },
      },
    },
    '/api/kudos/{kudosId}': {
      get: {
        operationId: 'getKudos',
        parameters: [{ name: 'kudosId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a kudos' }, '404': { description: 'not for you' } },
      },
    },
    '/api/expenses/{expenseId}': {
      get: {
        operationId: 'getExpense',
        parameters: [{ name: 'expenseId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'an expense' }, '404': { description: 'none of yours' } },
      },
    },
  },
};

const KEY = 'team-expenses-test-key-5c1d';
const MEMBERS = [
  { sub: 31, email: 'mara@team.test', password: 'Mara-exp-2026' },
  { sub: 58, email: 'tomas@team.test', password: 'Tomas-exp-2026' },
];

function sign(sub: number): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: String(sub), iat: 1796000000 })}`;
  return `${head}.${createHmac('sha256', KEY).update(head).digest('base64url')}`;
}

function caller(auth: string | undefined): number | undefined {
  const token = /^Bearer (.+)$/.exec(auth ?? '')?.[1];
  const parts = token?.split('.');
  if (parts?.length !== 3) return undefined;
  const expected = createHmac('sha256', KEY).update(`${parts[0]}.${parts[1]}`).digest('base64url');
  if (expected !== parts[2]) return undefined;
  return Number(JSON.parse(Buffer.from(parts[1], 'base64url').toString()).sub);
}

function startExpenses(fixed: boolean) {
  const expenses = [
    { id: 1, title: 'Train to Leeds', amount: 64.2, ownerId: 31 },
    { id: 2, title: 'Client lunch', amount: 48, ownerId: 58 },
  ];
  const kudos: { id: number; userId: number; fromId: number; text: string }[] = [];
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://expenses');
    if (url.pathname === '/api/sessions' && req.method === 'POST') {
      const body = await readJson(req);
      const m = MEMBERS.find((x) => x.email === body?.email && x.password === body?.password);
      if (!m) return sendJson(res, 422, { errors: ['email or password is wrong'] });
      return sendJson(res, 201, { accessToken: sign(m.sub) });
    }
    const me = caller(req.headers.authorization);
    if (me === undefined) return sendJson(res, 401, { errors: ['sign in first'] });
    if (url.pathname === '/api/expenses' && req.method === 'GET')
      return sendJson(
        res,
        200,
        expenses.filter((e) => e.ownerId === me),
      );
    if (url.pathname === '/api/expenses' && req.method === 'POST') {
      const body = await readJson(req);
      const title = body?.title;
      const amount = body?.amount;
      if (typeof title !== 'string' || title.length > 80 || typeof amount !== 'number' || amount < 0)
        return sendJson(res, 422, { errors: ['title and amount are required'] });
      const named = typeof body?.ownerId === 'number' ? body.ownerId : me;
      const ownerId = fixed ? me : named;
      if (!MEMBERS.some((m) => m.sub === ownerId)) return sendJson(res, 422, { errors: ['no such member'] });
      const expense = { id: expenses.length + 1, title, amount, ownerId };
      expenses.push(expense);
      return sendJson(res, 201, { id: expense.id, title: expense.title });
    }
    if (url.pathname === '/api/kudos' && req.method === 'GET')
      return sendJson(
        res,
        200,
        kudos.filter((k) => k.userId === me),
      );
    if (url.pathname === '/api/kudos' && req.method === 'POST') {
      const body = await readJson(req);
      if (!MEMBERS.some((m) => m.sub === body?.userId) || typeof body?.text !== 'string')
        return sendJson(res, 422, { errors: ['a teammate and a text are required'] });
      const k = { id: kudos.length + 1, userId: Number(body.userId), fromId: me, text: body.text };
      kudos.push(k);
      return sendJson(res, 201, { id: k.id });
    }
    const given = /^\/api\/kudos\/(\d+)$/.exec(url.pathname);
    if (given && req.method === 'GET') {
      const k = kudos.find((x) => x.id === Number(given[1]) && (x.userId === me || x.fromId === me));
      return k ? sendJson(res, 200, k) : sendJson(res, 404, { errors: ['no such kudos'] });
    }
    const item = /^\/api\/expenses\/(\d+)$/.exec(url.pathname);
    if (item && req.method === 'GET') {
      const e = expenses.find((x) => x.id === Number(item[1]) && x.ownerId === me);
      return e ? sendJson(res, 200, e) : sendJson(res, 404, { errors: ['no such expense'] });
    }
    return sendJson(res, 404, { errors: ['no such route'] });
  });
}

describe("API1 files a creation in another member's name through a camelCase owner field", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startExpenses>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startExpenses, {
        identities: MEMBERS.map((m) => ({
          name: m.email.split('@')[0],
          login: { path: '/api/sessions', body: { email: m.email, password: m.password } },
        })),
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("vulnerable: an expense filed with the other member's ownerId", () => {
    const f = scans.vulnerable.result.findings.find((x) => x.operation?.operationId === 'fileExpense');
    assert.ok(f, operationsFound(scans.vulnerable.result).join());
    assert.match(f.message, /by setting ownerId/);
  });

  test('kudos for a teammate, shown on its side by design, are not reported on either twin', () => {
    assert.ok(!operationsFound(scans.vulnerable.result).some((f) => / giveKudos$/.test(f)));
    assert.ok(!operationsFound(scans.fixed.result).some((f) => / giveKudos$/.test(f)));
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
