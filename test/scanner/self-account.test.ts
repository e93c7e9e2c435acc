import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A gym's booking API, Swagger 2.0, integer ids, a session token (an HS256 JWT whose claims carry the
 * member's `member_id`) from `POST /session {login, secret}`. `GET /members` is a directory every member may
 * read (so every member id is known to everyone); bookings live below a member,
 * `/members/{member_id}/bookings[/{booking_id}]`, and each member has an introductory class booked when the
 * gym opens. A booking names a payment method, `POST /members/{member_id}/bookings {class_name,
 * method_id}`; payment methods are the caller's own, `/wallet/methods`.
 *
 * Vulnerable: a booking is filed under the caller whatever member the path names, the bookings of any member
 * are readable by any member, and a booking may be paid with another member's payment method.
 * Fixed twin: the path must name the caller (403 otherwise) and the payment method must be the caller's.
 */
const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;
const BOOKING = {
  type: 'object',
  properties: { booking_id: int, member_id: int, class_name: str, method_id: int },
};
const METHOD = { type: 'object', properties: { method_id: int, label: str } };
const memberParam = { name: 'member_id', in: 'path', required: true, type: 'integer' };
const SPEC = {
  swagger: '2.0',
  info: { title: 'gym', version: '1' },
  basePath: '/',
  consumes: ['application/json'],
  produces: ['application/json'],
  securityDefinitions: { session: { type: 'apiKey', in: 'header', name: 'Authorization' } },
  security: [{ session: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'openSession',
        security: [],
        parameters: [
          {
            name: 'credentials',
            in: 'body',
            required: true,
            schema: { type: 'object', properties: { login: str, secret: str } },
          },
        ],
        responses: { '200': { description: 'a session', schema: { type: 'object' } } },
      },
    },
    '/members': {
      get: {
        operationId: 'directory',
        responses: {
          '200': {
            description: 'every member',
            schema: { type: 'array', items: { type: 'object', properties: { member_id: int, name: str } } },
          },
        },
      },
    },
    '/members/{member_id}/bookings': {
      get: {
        operationId: 'listBookings',
        parameters: [memberParam],
        responses: { '200': { description: 'bookings', schema: { type: 'array', items: BOOKING } } },
      },
      post: {
        operationId: 'book',
        parameters: [
          memberParam,
          {
            name: 'booking',
            in: 'body',
            required: true,
            schema: {
              type: 'object',
              required: ['class_name', 'method_id'],
              properties: { class_name: { type: 'string', example: 'spin' }, method_id: int },
            },
          },
        ],
        responses: { '201': { description: 'booked', schema: BOOKING } },
      },
    },
    '/members/{member_id}/bookings/{booking_id}': {
      get: {
        operationId: 'getBooking',
        parameters: [memberParam, { name: 'booking_id', in: 'path', required: true, type: 'integer' }],
        responses: { '200': { description: 'a booking', schema: BOOKING } },
      },
    },
    '/members/{member_id}/bookings/search': {
      get: {
        operationId: 'searchBookings',
        parameters: [memberParam, { name: 'q', in: 'query', required: true, type: 'string' }],
        responses: { '200': { description: 'matching bookings', schema: { type: 'array', items: BOOKING } } },
      },
    },
    '/wallet/methods': {
      get: {
        operationId: 'listMethods',
        responses: { '200': { description: 'my methods', schema: { type: 'array', items: METHOD } } },
      },
      post: {
        operationId: 'addMethod',
        parameters: [
          {
            name: 'method',
            in: 'body',
            required: true,
            schema: { type: 'object', properties: { label: { type: 'string', example: 'visa' } } },
          },
        ],
        responses: { '201': { description: 'added', schema: METHOD } },
      },
    },
    '/wallet/methods/{method_id}': {
      get: {
        operationId: 'getMethod',
        parameters: [{ name: 'method_id', in: 'path', required: true, type: 'integer' }],
        responses: { '200': { description: 'a method', schema: METHOD } },
      },
    },
  },
};

const KEY = 'gym-test-key-not-secret-0123456789';
const MEMBERS = [
  { member_id: 301, name: 'carol', secret: 'pw-c' },
  { member_id: 302, name: 'alice', secret: 'pw-a' },
  { member_id: 303, name: 'bob', secret: 'pw-b' },
];

function sign(claims: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${head}.${createHmac('sha256', KEY).update(head).digest('base64url')}`;
}

function memberOf(header: string | undefined): number | undefined {
  const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
  const [h, p, s] = token?.split('.') ?? [];
  if (!s || createHmac('sha256', KEY).update(`${h}.${p}`).digest('base64url') !== s) return undefined;
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  return typeof claims.member_id === 'number' ? claims.member_id : undefined;
}

interface Booking {
  booking_id: number;
  member_id: number;
  class_name: string;
  method_id: number | null;
}

async function startGym(fixed: boolean): Promise<{ url: string; server: Server }> {
  let next = 900;
  const bookings: Booking[] = MEMBERS.map((m) => ({
    booking_id: next++,
    member_id: m.member_id,
    class_name: `intro for ${m.name}`,
    method_id: null,
  }));
  const methods: { method_id: number; label: string; member_id: number }[] = [];
  return startServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      let input: Record<string, unknown> = {};
      try {
        const parsed = raw ? JSON.parse(raw) : {};
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) input = parsed;
      } catch {
        return send(400, { fault: 'malformed' });
      }
      if (req.method === 'POST' && url.pathname === '/session') {
        const m = MEMBERS.find((x) => x.name === input.login && x.secret === input.secret);
        return m ? send(200, { session: sign({ member_id: m.member_id, sub: m.name }) }) : send(401, {});
      }
      const caller = memberOf(req.headers.authorization);
      if (caller === undefined) return send(401, { fault: 'no session' });
      if (req.method === 'GET' && url.pathname === '/members') {
        return send(
          200,
          MEMBERS.map(({ member_id, name }) => ({ member_id, name })),
        );
      }
      if (url.pathname === '/wallet/methods') {
        if (req.method === 'GET') {
          return send(
            200,
            methods
              .filter((m) => m.member_id === caller)
              .map(({ method_id, label }) => ({ method_id, label })),
          );
        }
        if (req.method === 'POST') {
          const m = { method_id: next++, label: String(input.label ?? 'card'), member_id: caller };
          methods.push(m);
          return send(201, { method_id: m.method_id, label: m.label });
        }
      }
      const method = /^\/wallet\/methods\/(\d+)$/.exec(url.pathname);
      if (req.method === 'GET' && method) {
        const m = methods.find((x) => x.method_id === Number(method[1]) && x.member_id === caller);
        return m ? send(200, { method_id: m.method_id, label: m.label }) : send(404, { fault: 'none' });
      }
      const search = /^\/members\/(\d+)\/bookings\/search$/.exec(url.pathname);
      if (req.method === 'GET' && search) {
        if (fixed && Number(search[1]) !== caller) return send(403, { fault: 'not yours' });
        const q = (url.searchParams.get('q') ?? '').toLowerCase();
        if (q === '') return send(422, { fault: 'q is required' });
        return send(
          200,
          bookings.filter((b) => b.member_id === Number(search[1]) && b.class_name.toLowerCase().includes(q)),
        );
      }
      const list = /^\/members\/(\d+)\/bookings$/.exec(url.pathname);
      const item = /^\/members\/(\d+)\/bookings\/(\d+)$/.exec(url.pathname);
      const member = Number((list ?? item)?.[1]);
      if ((list || item) && fixed && member !== caller) return send(403, { fault: 'not yours' });
      if (req.method === 'GET' && list)
        return send(
          200,
          bookings.filter((b) => b.member_id === member),
        );
      if (req.method === 'GET' && item) {
        const b = bookings.find((x) => x.booking_id === Number(item[2]) && x.member_id === member);
        return b ? send(200, b) : send(404, { fault: 'none' });
      }
      if (req.method === 'POST' && list) {
        const pm = methods.find((m) => m.method_id === Number(input.method_id));
        if (!pm || typeof input.class_name !== 'string') return send(422, { fault: 'invalid booking' });
        if (fixed && pm.member_id !== caller) return send(403, { fault: 'not your payment method' });
        // Filed under the caller, whatever member the path names.
        const b: Booking = {
          booking_id: next++,
          member_id: caller,
          class_name: input.class_name,
          method_id: pm.method_id,
        };
        bookings.push(b);
        return send(201, b);
      }
      return send(404, { fault: 'no route' });
    });
  });
}

describe('objects filed under the caller’s own account, and references to another’s objects', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startGym, {
      identities: [
        { name: 'alice', login: { path: '/session', body: { login: 'alice', secret: 'pw-a' } } },
        { name: 'bob', login: { path: '/session', body: { login: 'bob', secret: 'pw-b' } } },
      ],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('reads below the identity’s own account (its member_id claim) by the other identity are reported', () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(found.includes('scan/api1-bola-read listBookings'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-read getBooking'), found.join('\n'));
    // The search asks for a term the owner's own booking holds (a sampled one finds nothing).
    const search = runs.vulnerable.findings.find((x) => x.operation?.operationId === 'searchBookings');
    assert.match(search?.message ?? '', /\/bookings\/search\?q=spin/);
    const f = runs.vulnerable.findings.find((x) => x.operation?.operationId === 'listBookings');
    // The path names the owner's own member id, which the directory lists to everyone.
    assert.match(f?.message ?? '', /\/members\/30[23]\/bookings/);
  });

  test('a booking paid with the other identity’s payment method is reported at the creation', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api1-bola-write' && x.operation?.operationId === 'book',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /method_id naming alice's object \/wallet\/methods\/\d+/);
    assert.equal(f.rule.owasp, 'API1:2023');
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
