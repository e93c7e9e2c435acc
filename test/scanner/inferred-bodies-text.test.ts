import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Court bookings in the style of a small Express app without any validation schema: its served document lists
 * the writes with no request body, and its refusals are plain text, one field at a time (`username is
 * required`, `court_id is required`, `slot must be a valid date (YYYY-MM-DD)`). `POST /v1/bookings` files a
 * booking under the `username` of its body; `PATCH /v1/bookings/{ref}` changes `slot` and `note` and answers
 * `nothing to update` for a body without either (naming no field: the fields come from the booking's own
 * record). Courts are listed at `GET /v1/courts`; a booking's `court_id` must name one.
 *
 * Vulnerable: a booking may be filed in anyone's name, and anyone reads and changes anyone's booking. Fixed
 * twin: `username` must be the caller's own (403), and a booking is its owner's only (404 for anyone else).
 */
const SPEC = {
  swagger: '2.0',
  info: { title: 'courts', version: '1' },
  basePath: '/',
  securityDefinitions: { jwt: { type: 'apiKey', in: 'header', name: 'Authorization' } },
  security: [{ jwt: [] }],
  paths: {
    '/v1/login': {
      post: {
        operationId: 'login',
        security: [],
        parameters: [
          {
            name: 'credentials',
            in: 'body',
            schema: {
              type: 'object',
              properties: { username: { type: 'string' }, password: { type: 'string' } },
            },
          },
        ],
        responses: { '200': { description: 'token' } },
      },
    },
    '/v1/courts': { get: { operationId: 'listCourts', responses: { '200': { description: 'courts' } } } },
    '/v1/bookings': {
      get: { operationId: 'myBookings', responses: { '200': { description: 'bookings' } } },
      post: { operationId: 'createBooking', responses: { '201': { description: 'booked' } } },
    },
    '/v1/waitlist': {
      post: { operationId: 'joinWaitlist', responses: { '200': { description: 'on the list' } } },
    },
    '/v1/bookings/{ref}': {
      get: {
        operationId: 'getBooking',
        parameters: [{ name: 'ref', in: 'path', required: true, type: 'string' }],
        responses: { '200': { description: 'a booking' } },
      },
      patch: {
        operationId: 'changeBooking',
        parameters: [{ name: 'ref', in: 'path', required: true, type: 'string' }],
        responses: { '200': { description: 'changed' } },
      },
    },
  },
};

const USERS: Record<string, string> = { zoe: 'zoe-pw-77125', omar: 'omar-pw-30418', lena: 'lena-pw-55190' };
const COURTS = [
  { id: 7, surface: 'clay', indoor: false },
  { id: 9, surface: 'grass', indoor: false },
];

interface Booking {
  ref: string;
  username: string;
  court_id: number;
  slot: string;
  note: string;
}

async function jsonOf(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    // express.json() leaves req.body empty for a missing or foreign body.
    return {};
  }
}

interface Courts {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly bookings: Map<string, Booking>;
  readonly requests: string[];
}

async function startCourts(fixed: boolean): Promise<Courts> {
  const bookings = new Map<string, Booking>([
    ['bk-1', { ref: 'bk-1', username: 'lena', court_id: 7, slot: '2026-12-24', note: 'lena only' }],
  ]);
  const tokens = new Map<string, string>();
  const requests: string[] = [];
  let next = 2;
  const server = await startServer(async (req, res) => {
    const headers = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
    const text = (status: number, message: string) => {
      res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end(message);
    };
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await jsonOf(req);
    if (url.pathname === '/v1/login' && req.method === 'POST') {
      const name = String(body.username ?? '');
      if (USERS[name] === undefined || USERS[name] !== body.password) return text(401, 'bad credentials');
      const token = `jwt-${name}-${tokens.size}-${Math.random().toString(36).slice(2)}`;
      tokens.set(token, name);
      return send(200, { token });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    requests.push(`${req.method} ${url.pathname} ${who ?? '-'} ${JSON.stringify(body)}`);
    if (who === undefined) return text(401, 'unauthorized');
    if (url.pathname === '/v1/courts' && req.method === 'GET') return send(200, COURTS);
    if (url.pathname === '/v1/bookings' && req.method === 'GET')
      return send(
        200,
        [...bookings.values()].filter((b) => b.username === who),
      );
    if (url.pathname === '/v1/bookings' && req.method === 'POST') {
      if (typeof body.username !== 'string' || body.username === '') return text(400, 'username is required');
      if (body.court_id === undefined) return text(400, 'court_id is required');
      if (!COURTS.some((c) => c.id === Number(body.court_id))) return text(400, 'no such court');
      if (body.slot === undefined) return text(400, 'slot is required');
      if (typeof body.slot !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(body.slot))
        return text(400, 'slot must be a valid date (YYYY-MM-DD)');
      if (USERS[body.username] === undefined) return text(400, 'unknown user');
      if (fixed && body.username !== who) return text(403, 'you can only book for yourself');
      const b: Booking = {
        ref: `bk-${next++}`,
        username: body.username,
        court_id: Number(body.court_id),
        slot: body.slot,
        note: typeof body.note === 'string' ? body.note : '',
      };
      bookings.set(b.ref, b);
      return send(201, b);
    }
    if (url.pathname === '/v1/waitlist' && req.method === 'POST') {
      // Asks for the member's password again: the scan must not guess one.
      if (typeof body.password !== 'string') return text(400, 'password is required');
      return send(200, { listed: true });
    }
    const item = /^\/v1\/bookings\/([^/]+)$/.exec(url.pathname);
    if (item) {
      const b = bookings.get(decodeURIComponent(item[1]));
      if (!b || (fixed && b.username !== who)) return text(404, 'booking not found');
      if (req.method === 'GET') return send(200, b);
      if (req.method === 'PATCH') {
        if (body.slot === undefined && body.note === undefined) return text(400, 'nothing to update');
        if (body.slot !== undefined) {
          if (typeof body.slot !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(body.slot))
            return text(400, 'slot must be a valid date (YYYY-MM-DD)');
          b.slot = body.slot;
        }
        if (typeof body.note === 'string') b.note = body.note;
        return send(200, b);
      }
      return text(405, 'method not allowed');
    }
    return text(404, 'not found');
  });
  return { url: server.url, server: server.server, bookings, requests };
}

const identity = (name: string) => ({
  name,
  login: { path: '/v1/login', body: { username: name, password: USERS[name] } },
});

describe('bodies learnt from plain-text refusals and from the records of the same resource', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Courts }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startCourts, {
      identities: [identity('zoe'), identity('omar')],
      checks: ['API1'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable;
    runs.fixed = scans.fixed;
  });

  test('each member books a court of the list in its own name', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const made = [...runs[kind].api.bookings.values()].filter((b) => b.ref !== 'bk-1');
      for (const name of ['zoe', 'omar'])
        assert.ok(
          made.some((b) => b.username === name && (b.court_id === 7 || b.court_id === 9)),
          `${kind}: ${JSON.stringify(made)}`,
        );
    }
  });

  test("bookings filed in another member's name, read and changed by another member", () => {
    const found = operationsFound(runs.vulnerable.result);
    for (const want of [
      'scan/api1-bola-read getBooking',
      'scan/api1-bola-write changeBooking',
      'scan/api1-bola-write createBooking',
    ])
      assert.ok(found.includes(want), `${want} missing from\n${found.join('\n')}`);
  });

  test('the coverage matrix says where each body came from', () => {
    const text = JSON.stringify(runs.vulnerable.result.coverage);
    assert.match(text, /inferred from the API's error answers: username, court_id, slot/);
    assert.match(text, /PATCH \/v1\/bookings\/\{ref\}[^}]*inferred from [^"]*: [^"]*note/);
  });

  test("the report's notes list the bodies inferred and those that were not", () => {
    const notes = runs.vulnerable.result.notes.join('\n');
    assert.match(
      notes,
      /inferred from the API's answers and used by every check: POST \/v1\/bookings, PATCH \/v1\/bookings\/\{ref\}/,
    );
    assert.match(notes, /could not infer \(their checks test little\): POST \/v1\/waitlist/);
  });

  test('a body asking for a password is not guessed, and the coverage matrix says so', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const sent = runs[kind].api.requests.filter((r) => r.startsWith('POST /v1/waitlist'));
      assert.ok(sent.length >= 1, kind);
      assert.ok(
        sent.every((r) => !r.includes('password')),
        sent.join('\n'),
      );
    }
    assert.match(
      JSON.stringify(runs.vulnerable.result.coverage),
      /request body not in the document and not inferred: the API asks for password, which the scan never guesses/,
    );
  });

  test('the fixed twin: no finding', () => {
    const { result } = runs.fixed;
    assert.deepEqual(operationsFound(result), [], result.findings.map((x) => x.message).join('\n'));
  });

  test("lena's booking (no identity's) is untouched, and the scan books for nobody but its members", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { bookings } = runs[kind].api;
      assert.deepEqual(
        bookings.get('bk-1'),
        { ref: 'bk-1', username: 'lena', court_id: 7, slot: '2026-12-24', note: 'lena only' },
        kind,
      );
      assert.ok(
        [...bookings.values()].every((b) => b.ref === 'bk-1' || b.username !== 'lena'),
        kind,
      );
    }
  });
});
