import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { findingOn, scanDocument, scanTwins } from './twins.ts';

/**
 * A concert box office in Rails' style (`{"errors": ["..."]}`, `Authorization: Bearer`): `POST /tickets/purchase
 * {concert_id, quantity}` buys tickets charged to the member's card on file (the document says so and lists a 402), at
 * most two a member for the farewell concert. Every account starts with 100 on its card; a ticket costs 10. Sign-up `POST
 * /members`, login `POST /sessions`.
 *
 * Vulnerable twin: no cap, one member can empty the concert. Fixed twin: the third ticket is refused (409). A
 * purchase is never made as a given identity: the repetition goes as an account of the scan's own, and without a
 * sign-up the coverage says it was not tested and why (session 15's measured miss: checkout steps and ticket
 * purchases only an account of the scan's own could make, and the coverage said nothing).
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const credentials = json({ email: { type: 'string', format: 'email' }, password: { type: 'string' } }, [
  'email',
  'password',
]);
function spec(withSignup: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'box office', version: '7.2' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      ...(withSignup
        ? {
            '/members': {
              post: {
                operationId: 'signUp',
                security: [],
                requestBody: credentials,
                responses: { '201': { description: 'member' } },
              },
            },
          }
        : {}),
      '/sessions': {
        post: {
          operationId: 'signIn',
          security: [],
          requestBody: credentials,
          responses: { '201': { description: 'token' } },
        },
      },
      '/concerts': { get: { operationId: 'concerts', responses: { '200': { description: 'concerts' } } } },
      '/me/wallet': {
        get: { operationId: 'wallet', responses: { '200': { description: "the member's credit" } } },
      },
      '/tickets/purchase': {
        post: {
          operationId: 'purchaseTickets',
          summary: "Buy tickets for a concert, charged to the member's card on file (at most two a member)",
          requestBody: json({ concert_id: { type: 'integer' }, quantity: { type: 'integer', minimum: 1 } }, [
            'concert_id',
            'quantity',
          ]),
          responses: { '201': { description: 'bought' }, '402': { description: 'not enough credit' } },
        },
      },
    },
  };
}

const PEOPLE: Record<string, string> = {
  'lia@boxoffice.test': 'Lia-box-office-88',
  'tao@boxoffice.test': 'Tao-box-office-31',
};

function startBoxOffice(fixed: boolean) {
  const members = new Map<string, { password: string; credit: number; tickets: number }>(
    Object.entries(PEOPLE).map(([email, password]) => [email, { password, credit: 100, tickets: 0 }]),
  );
  const tokens = new Map<string, string>();
  const concert = { id: 41, name: 'Farewell tour', tickets_left: 500 };
  return startServer(async (req, res) => {
    if (req.method !== 'POST') req.resume();
    const b = (req.method === 'POST' ? await readJson(req) : undefined) ?? {};
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(value));
    };
    const path = new URL(req.url ?? '/', 'http://box').pathname;
    if (req.method === 'POST' && path === '/members') {
      const email = String(b.email ?? '');
      if (!/^[^@\s]+@[^@\s]+$/.test(email) || typeof b.password !== 'string' || b.password.length < 8)
        return reply(422, {
          errors: ['Email is invalid', 'Password is too short (minimum is 8 characters)'],
        });
      if (members.has(email)) return reply(422, { errors: ['Email has already been taken'] });
      members.set(email, { password: b.password, credit: 100, tickets: 0 });
      return reply(201, { email, credit: 100 });
    }
    if (req.method === 'POST' && path === '/sessions') {
      const m = members.get(String(b.email));
      if (!m || m.password !== b.password) return reply(401, { errors: ['Invalid email or password'] });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, String(b.email));
      return reply(201, { token });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const me = who ? members.get(who) : undefined;
    if (!who || !me) return reply(401, { errors: ['You need to sign in first'] });
    if (req.method === 'GET' && path === '/concerts') return reply(200, [concert]);
    if (req.method === 'GET' && path === '/me/wallet')
      return reply(200, { email: who, credit: me.credit, tickets: me.tickets });
    if (req.method === 'POST' && path === '/tickets/purchase') {
      const quantity = Number(b.quantity);
      if (b.concert_id !== concert.id || !Number.isInteger(quantity) || quantity < 1)
        return reply(422, { errors: ['Concert must exist', 'Quantity must be a positive number'] });
      if (fixed && me.tickets + quantity > 2) return reply(409, { errors: ['At most two tickets a member'] });
      if (me.credit < 10 * quantity) return reply(402, { errors: ['Not enough credit'] });
      me.credit -= 10 * quantity;
      me.tickets += quantity;
      concert.tickets_left -= quantity;
      return reply(201, {
        concert_id: concert.id,
        quantity,
        tickets_left: concert.tickets_left,
        credit: me.credit,
      });
    }
    return reply(404, { errors: ['Not found'] });
  }).then((api) => Object.assign(api, { members }));
}

const identities = Object.entries(PEOPLE).map(([email, password]) => ({
  name: email.split('@')[0]!,
  login: { path: '/sessions', body: { email, password } },
}));

const given = (members: Map<string, { credit: number; tickets: number }>) =>
  Object.keys(PEOPLE).map((email) => ({
    email,
    credit: members.get(email)?.credit,
    tickets: members.get(email)?.tickets,
  }));
const seeded = Object.keys(PEOPLE).map((email) => ({ email, credit: 100, tickets: 0 }));

describe("a purchase flow is repeated as the scan's own account, never a given one", () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBoxOffice>>>>>;
  before(async () => {
    scans = await scanTwins(spec(true), startBoxOffice, { identities, checks: ['API6'], ratePerSecond: 200 });
  });

  test('the vulnerable twin: five purchases in a row, as an account the scan registered', () => {
    const f = findingOn(scans.vulnerable.result, 'scan/api6-repeatable-business-flow', 'purchaseTickets');
    assert.ok(f, JSON.stringify(scans.vulnerable.result.coverage.matrix.filter((c) => c.check === 'API6')));
    assert.match(f.message, /5 times in a row for pcb[0-9a-f]+ \(an account the scan registered\)/);
  });

  test('the fixed twin: the third ticket refused, no finding, and the coverage says where it stopped', () => {
    const { result } = scans.fixed;
    assert.equal(findingOn(result, 'scan/api6-repeatable-business-flow', 'purchaseTickets'), undefined);
    const cell = result.coverage.matrix.find(
      (c) => c.check === 'API6' && c.operation === 'POST /tickets/purchase',
    );
    assert.match(
      JSON.stringify(cell),
      /repeated as pcb[0-9a-f]+ \(an account the scan registered\): purchase 3 answered 409/,
    );
  });

  test("both twins: lia's and tao's credit and tickets as seeded", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(given(scans[kind].api.members), seeded, kind);
  });
});

describe('without a sign-up, the coverage says why the purchase flow was not tested', () => {
  let result: ScanResult;
  let members: Map<string, { credit: number; tickets: number }>;
  before(async () => {
    const api = await startBoxOffice(false);
    try {
      result = await scanDocument(spec(false), api.url, { identities, checks: ['API6'], ratePerSecond: 200 });
      members = api.members;
    } finally {
      await api.close();
    }
  });

  test('nothing bought, no finding, the reason on the operation', () => {
    assert.deepEqual(given(members), seeded);
    assert.equal(findingOn(result, 'scan/api6-repeatable-business-flow', 'purchaseTickets'), undefined);
    const cell = result.coverage.matrix.find(
      (c) => c.check === 'API6' && c.operation === 'POST /tickets/purchase',
    );
    assert.match(
      JSON.stringify(cell),
      /not tested: repeating it buys, which the scan never does as a given identity .* and the document has no sign-up for an account of the scan's own to buy as/,
    );
  });
});
