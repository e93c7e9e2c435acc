import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A bakery chain in a Go net/http style (JSON login answering `{token, user: {id}}`, `GET /v1/me`): its public
 * shop directory lists each shop's own support e-mail and phone, and the shops' ids (1, 2) are the same numbers
 * as alice's and bob's user ids. That is no leak: the shops are not the users. Vulnerable: the public reviews
 * list shows each reviewer's e-mail and phone beside the review (`user_id`). Fixed twin: reviews show a display
 * name only.
 */
const str = { type: 'string' };
const PERSON = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: str,
    username: str,
    email: { ...str, format: 'email' },
    phone: str,
  },
};
const REVIEW = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    stars: { type: 'integer' },
    user_id: { type: 'integer' },
    by: str,
    email: str,
    phone: str,
  },
};
const answer = (schema: unknown) => ({ description: 'ok', content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bakeries', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v1/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
    '/v1/me': { get: { operationId: 'me', responses: { '200': answer(PERSON) } } },
    '/v1/shops': {
      get: {
        operationId: 'listShops',
        security: [],
        responses: { '200': answer({ type: 'array', items: PERSON }) },
      },
    },
    '/v1/reviews': {
      get: {
        operationId: 'listReviews',
        security: [],
        responses: { '200': answer({ type: 'array', items: REVIEW }) },
      },
    },
  },
};

const USERS = [
  {
    id: 1,
    username: 'alice',
    password: 'alice-pw-3',
    email: 'alice@bakery.test',
    phone: '+33 1 00 00 00 01',
  },
  { id: 2, username: 'bob', password: 'bob-pw-4', email: 'bob@bakery.test', phone: '+33 1 00 00 00 02' },
];
const SHOPS = [
  { id: 1, name: 'Rue Haute', email: 'ruehaute@bakery.test', phone: '+33 1 55 00 01 00' },
  { id: 2, name: 'Quai Bas', email: 'quaibas@bakery.test', phone: '+33 1 55 00 02 00' },
];

async function startBakeries(fixed: boolean): Promise<{ url: string; server: Server }> {
  const sessions = new Map<string, (typeof USERS)[number]>();
  const s = await startServer((req, res) => {
    const json = (status: number, b: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/v1/login') {
        let b: Record<string, unknown> = {};
        try {
          b = JSON.parse(raw || '{}');
        } catch {
          return json(400, { error: 'bad json' });
        }
        const u = USERS.find((x) => x.username === b.username && x.password === b.password);
        if (!u) return json(401, { error: 'invalid credentials' });
        const token = randomBytes(16).toString('hex');
        sessions.set(token, u);
        return json(200, { token, user: { id: u.id } });
      }
      if (req.method === 'GET' && path === '/v1/shops') return json(200, SHOPS);
      if (req.method === 'GET' && path === '/v1/reviews')
        return json(
          200,
          USERS.map((u, i) =>
            fixed
              ? { id: 100 + i, stars: 5, by: u.username }
              : { id: 100 + i, stars: 5, user_id: u.id, email: u.email, phone: u.phone },
          ),
        );
      const me = sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!me) return json(401, { error: 'unauthorized' });
      if (req.method === 'GET' && path === '/v1/me')
        return json(200, { id: me.id, username: me.username, email: me.email, phone: me.phone });
      return json(404, { error: 'not found' });
    });
  });
  return { url: s.url, server: s.server };
}

describe("API3 contact data: whose it is, by the identity's login values or user ids, not by a small number", () => {
  let scans: TwinScans<{ url: string; server: Server }>;
  before(async () => {
    scans = await scanTwins(SPEC, startBakeries, {
      identities: USERS.map((u) => ({
        name: u.username,
        login: { path: '/v1/login', body: { username: u.username, password: u.password } },
      })),
      checks: ['API3'],
      ratePerSecond: 200,
    });
  });
  const exposures = (kind: 'vulnerable' | 'fixed') =>
    scans[kind].result.findings
      .filter((f) => f.rule.id === 'scan/api3-sensitive-data-exposure')
      .map((f) => `${f.operation?.operationId}: ${f.message}`);

  test("the public reviews showing alice's and bob's e-mails and phones are found, the shop directory is not", () => {
    const found = exposures('vulnerable');
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0], /^listReviews: .*alice's contact data.*bob's contact data/);
  });

  test('nothing on the fixed twin', () => {
    assert.deepEqual(exposures('fixed'), []);
  });
});
