import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A second-hand marketplace in Django REST framework's style: trailing slashes, a form-encoded token login
 * (`POST /api/auth/token/` → `{"token"}`, sent as `Authorization: Token ...`), `GET /api/me/` for one's own
 * profile, and `GET /api/listings/` open to anyone. The listing's seller is declared with an e-mail and a phone.
 *
 * Vulnerable: every listing shows its seller's e-mail and phone to anonymous visitors (the seller is a real
 * member: the same values are in that member's own profile). Fixed twin: anonymous visitors see the seller's
 * user name and avatar only (public profile fields); signed-in members still see the seller's contact data.
 */
const SELLER = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    avatar: { type: 'string' },
    email: { type: 'string', format: 'email' },
    phone: { type: 'string' },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'marketplace', version: '1.4' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/auth/token/': {
      post: {
        operationId: 'obtainToken',
        security: [],
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/api/me/': {
      get: {
        operationId: 'me',
        responses: {
          '200': {
            description: 'own profile',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { ...SELLER.properties, id: { type: 'integer' }, city: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
    '/api/listings/': {
      get: {
        operationId: 'listListings',
        security: [],
        responses: {
          '200': {
            description: 'listings',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { id: { type: 'integer' }, title: { type: 'string' }, seller: SELLER },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

const MEMBERS = [
  {
    id: 31,
    username: 'olga',
    password: 'olga-market-6',
    email: 'olga.k@market.test',
    phone: '+44 20 7946 0311',
    city: 'Leeds',
  },
  {
    id: 32,
    username: 'piet',
    password: 'piet-market-2',
    email: 'piet.v@market.test',
    phone: '+31 20 555 0132',
    city: 'Utrecht',
  },
];
const LISTINGS = [
  { id: 1, title: 'bicycle', seller: 31 },
  { id: 2, title: 'lamp', seller: 32 },
];

async function form(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

function startMarket(fixed: boolean) {
  const tokens = new Map<string, number>();
  return startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', vary: 'Authorization' });
      res.end(JSON.stringify(payload));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/auth/token/') {
      const f = await form(req);
      const m = MEMBERS.find((x) => x.username === f.get('username') && x.password === f.get('password'));
      if (!m) return send(400, { non_field_errors: ['Unable to log in with provided credentials.'] });
      const token = `${m.id}${Math.random().toString(16).slice(2, 14)}`;
      tokens.set(token, m.id);
      return send(200, { token });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Token /, ''));
    if (req.method === 'GET' && path === '/api/me/') {
      const m = MEMBERS.find((x) => x.id === who);
      if (!m) return send(401, { detail: 'Authentication credentials were not provided.' });
      const { password: _, ...profile } = m;
      return send(200, profile);
    }
    if (req.method === 'GET' && path === '/api/listings/') {
      return send(
        200,
        LISTINGS.map((l) => {
          const s = MEMBERS.find((x) => x.id === l.seller)!;
          const avatar = `/media/avatars/${s.username}.png`;
          const seller =
            fixed && who === undefined
              ? { username: s.username, avatar }
              : { username: s.username, avatar, email: s.email, phone: s.phone };
          return { id: l.id, title: l.title, seller };
        }),
      );
    }
    return send(404, { detail: 'Not found.' });
  });
}

const identity = (m: (typeof MEMBERS)[number]) => ({
  name: m.username,
  login: {
    path: '/api/auth/token/',
    encoding: 'form' as const,
    body: { username: m.username, password: m.password },
    scheme: 'Token',
  },
});

describe("another member's contact data shown to anonymous callers", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startMarket, {
      identities: [identity(MEMBERS[0]), identity(MEMBERS[1])],
      checks: ['API3'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the listing shows a member's e-mail and phone to anonymous visitors, though declared", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api3-sensitive-data-exposure' && x.operation?.operationId === 'listListings',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(
      f.message,
      /\/\*\/seller\/email \((olga|piet)'s contact data shown to a caller without credentials\)/,
    );
    assert.match(f.message, /\/\*\/seller\/phone/);
    // Members' own profiles are theirs: not reported.
    assert.ok(!runs.vulnerable.findings.some((x) => x.operation?.operationId === 'me'));
  });

  test('the fixed twin: public profile fields only, no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
