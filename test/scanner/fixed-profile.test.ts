import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanDocument, scanTwins } from './twins.ts';

/**
 * A Hono-style reading-list API (a JSON `POST /api/session` answering `{"key": ..., "user_id": n}`, the key sent
 * as `X-Session`, `GET /api/me` for one's own profile with an e-mail and a phone, `GET
 * /api/shelves` the public shelves).
 *
 * Vulnerable: `GET /api/me` without a session key answers the profile of whoever signed in last. Fixed twin:
 * 401 without a session key. A third API, single-user and without authentication (a reading list kept on one
 * machine): `POST /api/session` answers a key and user 1 to any name, and `GET /api/me` answers the one fixed
 * owner's profile to everyone, with a key or without: the same record to every caller, anonymous included, is
 * nobody's data shown to another (it was reported as the identities' contact data shown anonymously).
 */
const PROFILE = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string', format: 'email' },
    phone: { type: 'string' },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reading list', version: '0.9.1' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session' } } },
  paths: {
    '/api/session': {
      post: {
        operationId: 'openSession',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a session' } },
      },
    },
    '/api/me': {
      get: {
        operationId: 'me',
        responses: {
          '200': { description: 'own profile', content: { 'application/json': { schema: PROFILE } } },
        },
      },
    },
    '/api/shelves': {
      get: {
        operationId: 'shelves',
        responses: {
          '200': {
            description: 'public shelves',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { id: { type: 'integer' }, name: { type: 'string' } },
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

const READERS = [
  {
    id: 7,
    username: 'noor',
    password: 'noor-reads-4',
    email: 'noor.h@shelf.test',
    phone: '+358 40 555 0107',
  },
  {
    id: 8,
    username: 'emil',
    password: 'emil-reads-9',
    email: 'emil.s@shelf.test',
    phone: '+358 40 555 0108',
  },
];
const OWNER = { id: 1, username: 'owner', email: 'me@home-shelf.test', phone: '+358 40 555 0001' };
const SHELVES = [
  { id: 1, name: 'to read' },
  { id: 2, name: 'favourites' },
];

async function json(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readText(req);
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** `single`: the single-user API without authentication. */
function startShelf(kind: 'vulnerable' | 'fixed' | 'single') {
  const sessions = new Map<string, number>();
  let last: number | undefined;
  return startServer(async (req, res) => {
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
      });
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/session') {
      const body = await json(req);
      const key = `s${Math.random().toString(36).slice(2, 12)}`;
      if (kind === 'single') return send(200, { key, user_id: OWNER.id });
      const r = READERS.find((x) => x.username === body.username && x.password === body.password);
      if (!r) return send(401, { error: 'unknown reader or wrong password' });
      sessions.set(key, r.id);
      last = r.id;
      return send(200, { key, user_id: r.id });
    }
    if (req.method === 'GET' && path === '/api/me') {
      if (kind === 'single') return send(200, OWNER);
      const who = sessions.get(String(req.headers['x-session'] ?? ''));
      const id = who ?? (kind === 'vulnerable' ? last : undefined);
      const r = READERS.find((x) => x.id === id);
      if (!r) return send(401, { error: 'no session' });
      const { password: _, ...profile } = r;
      return send(200, profile);
    }
    if (req.method === 'GET' && path === '/api/shelves') return send(200, SHELVES);
    return send(404, { error: 'no such route' });
  });
}

const identity = (r: { username: string; password: string }) => ({
  name: r.username,
  login: {
    path: '/api/session',
    body: { username: r.username, password: r.password },
    tokenPointer: '/key',
    header: 'x-session',
  },
});
const OPTIONS = {
  identities: [identity(READERS[0]), identity(READERS[1])],
  checks: ['API3'],
  ratePerSecond: 200,
};

describe("a profile read: a signed-in reader's own data to anonymous callers, or one fixed owner for all", () => {
  const runs = {} as Record<'vulnerable' | 'fixed' | 'single', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, (fixed) => startShelf(fixed ? 'fixed' : 'vulnerable'), OPTIONS);
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
    const single = await startShelf('single');
    try {
      runs.single = await scanDocument(SPEC, single.url, OPTIONS);
    } finally {
      single.server.close();
    }
  });

  test("the last reader's profile to a caller without a session key is reported", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api3-sensitive-data-exposure' && x.operation?.operationId === 'me',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /\/email \((noor|emil)'s contact data shown to a caller without credentials\)/);
  });

  test('the fixed twin: 401 without a session key, no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });

  test("the single-user API: one fixed owner's profile to every caller is nobody's data shown to another", () => {
    assert.deepEqual(operationsFound(runs.single), []);
  });
});
