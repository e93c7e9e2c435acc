import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Rails API with Devise-JWT's habits: every request body wraps its record in the model's name (strong params:
 * `{"user": {...}}`, `{"booking": {...}}`), a sign-in answers the user and hands the token in an `Authorization`
 * response header, validation errors are `{"errors": {"room": ["must exist"]}}` with 422, records are answered
 * bare.
 *
 * - `POST /users/sign_in {user: {email, password}}`, `POST /users {user: {email, password}}` (sign-up);
 * - `POST /users/change_password {user: {password}}`: the caller's own password (no current one asked);
 * - `GET /rooms`, `POST /bookings {booking: {room_id, nights}}` (the room must exist), `GET/PATCH/DELETE
 *   /bookings/{id}`.
 *
 * Vulnerable twin: a booking is read, changed and cancelled by anyone. Fixed twin: by its guest only.
 * What the scan must do on both: read the record inside the envelope — the password change sets a password (never
 * sent as a given member: the sampled one would lock the member out), the sign-in is a login, and the booking's
 * room_id is a room the API listed (a sampled 1 names no room: no booking, nothing to probe).
 */
const record = (name: string, properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: [name],
        properties: { [name]: { type: 'object', required, properties } },
      },
    },
  },
});
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const bookingId = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
const credentials = record(
  'user',
  { email: { type: 'string', format: 'email' }, password: { type: 'string', minLength: 8 } },
  ['email', 'password'],
);
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'innkeeper', version: '2.0' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ jwt: [] }],
  paths: {
    '/users/sign_in': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: credentials,
        responses: { '200': ok('signed in') },
      },
    },
    '/users': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: credentials,
        responses: { '201': ok('registered') },
      },
    },
    '/users/{id}': {
      get: { operationId: 'showUser', parameters: bookingId, responses: { '200': ok('a user') } },
    },
    '/users/change_password': {
      post: {
        operationId: 'changePassword',
        requestBody: record('user', { password: { type: 'string', minLength: 8 } }, ['password']),
        responses: { '204': { description: 'changed' } },
      },
    },
    '/rooms': { get: { operationId: 'listRooms', responses: { '200': ok('rooms') } } },
    '/bookings': {
      post: {
        operationId: 'createBooking',
        requestBody: record(
          'booking',
          { room_id: { type: 'integer' }, nights: { type: 'integer', minimum: 1 } },
          ['room_id', 'nights'],
        ),
        responses: { '201': ok('booked'), '422': ok('invalid') },
      },
    },
    '/bookings/{id}': {
      get: { operationId: 'showBooking', parameters: bookingId, responses: { '200': ok('a booking') } },
      patch: {
        operationId: 'updateBooking',
        parameters: bookingId,
        requestBody: record(
          'booking',
          { nights: { type: 'integer', minimum: 1 }, special_requests: { type: 'string', maxLength: 200 } },
          [],
        ),
        responses: { '200': ok('updated') },
      },
      delete: {
        operationId: 'destroyBooking',
        parameters: bookingId,
        responses: { '204': { description: 'gone' } },
      },
    },
  },
};

interface User {
  id: number;
  email: string;
  password: string;
}
interface Booking {
  id: number;
  user_id: number;
  room_id: number;
  nights: number;
  special_requests?: string;
}
const MEMBERS: User[] = [
  { id: 7, email: 'noor@innkeeper.test', password: 'Innkeeper-Noor-7' },
  { id: 8, email: 'yuki@innkeeper.test', password: 'Innkeeper-Yuki-8' },
];
const SEEDED: Booking[] = [
  { id: 41, user_id: 7, room_id: 2001, nights: 2 },
  { id: 42, user_id: 8, room_id: 2002, nights: 5 },
];

function startInnkeeper(fixed: boolean) {
  const users = MEMBERS.map((u) => ({ ...u }));
  const bookings = SEEDED.map((b) => ({ ...b }));
  const rooms = [
    { id: 2001, name: 'Garden', beds: 2 },
    { id: 2002, name: 'Attic', beds: 1 },
  ];
  const tokens = new Map<string, User>();
  let nextUser = 100;
  let nextBooking = 900;
  return startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      if (body === undefined) return res.writeHead(status, headers).end();
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const path = new URL(req.url ?? '/', 'http://innkeeper').pathname;
    let params: Record<string, unknown> = {};
    if (text !== '') {
      try {
        params = JSON.parse(text);
      } catch {
        return send(400, { error: 'unparseable JSON' });
      }
    }
    /** Strong params: the record under its model's name, or a 400 like ActionController::ParameterMissing. */
    const permit = (model: string): Record<string, unknown> | undefined => {
      const r = params?.[model];
      if (r === null || typeof r !== 'object' || Array.isArray(r)) {
        send(400, { error: `param is missing or the value is empty: ${model}` });
        return undefined;
      }
      return r as Record<string, unknown>;
    };
    if (req.method === 'POST' && path === '/users/sign_in') {
      const u = permit('user');
      if (!u) return;
      const user = users.find((x) => x.email === u.email && x.password === u.password);
      if (!user) return send(401, { error: 'Invalid Email or password.' });
      const token = randomBytes(18).toString('base64url');
      tokens.set(token, user);
      return send(200, { id: user.id, email: user.email }, { authorization: `Bearer ${token}` });
    }
    if (req.method === 'POST' && path === '/users') {
      const u = permit('user');
      if (!u) return;
      const errors: Record<string, string[]> = {};
      if (typeof u.email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(u.email)) errors.email = ['is invalid'];
      else if (users.some((x) => x.email === u.email)) errors.email = ['has already been taken'];
      if (typeof u.password !== 'string' || u.password.length < 8) errors.password = ['is too short'];
      if (Object.keys(errors).length > 0) return send(422, { errors });
      const user = { id: nextUser++, email: String(u.email), password: String(u.password) };
      users.push(user);
      return send(201, { id: user.id, email: user.email });
    }
    const me = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return send(401, { error: 'You need to sign in or sign up before continuing.' });
    if (req.method === 'POST' && path === '/users/change_password') {
      const u = permit('user');
      if (!u) return;
      if (typeof u.password !== 'string' || u.password.length < 8)
        return send(422, { errors: { password: ['is too short'] } });
      me.password = u.password;
      return send(204);
    }
    const user = /^\/users\/(\d+)$/.exec(path);
    if (req.method === 'GET' && user) {
      const u = users.find((x) => x.id === Number(user[1]));
      return u && u.id === me.id
        ? send(200, { id: u.id, email: u.email })
        : send(404, { error: 'Not Found' });
    }
    if (req.method === 'GET' && path === '/rooms') return send(200, rooms);
    if (req.method === 'POST' && path === '/bookings') {
      const b = permit('booking');
      if (!b) return;
      const errors: Record<string, string[]> = {};
      if (!rooms.some((r) => r.id === b.room_id)) errors.room = ['must exist'];
      if (typeof b.nights !== 'number' || b.nights < 1) errors.nights = ['must be greater than 0'];
      if (Object.keys(errors).length > 0) return send(422, { errors });
      const booking = {
        id: nextBooking++,
        user_id: me.id,
        room_id: Number(b.room_id),
        nights: Number(b.nights),
      };
      bookings.push(booking);
      return send(201, booking);
    }
    const one = /^\/bookings\/(\d+)$/.exec(path);
    if (one) {
      const at = bookings.findIndex((b) => b.id === Number(one[1]));
      const booking = bookings[at];
      if (!booking || (fixed && booking.user_id !== me.id)) return send(404, { error: 'Not Found' });
      if (req.method === 'GET') return send(200, booking);
      if (req.method === 'DELETE') {
        bookings.splice(at, 1);
        return send(204);
      }
      if (req.method === 'PATCH') {
        const b = permit('booking');
        if (!b) return;
        if (typeof b.nights === 'number' && b.nights >= 1) booking.nights = b.nights;
        if (typeof b.special_requests === 'string')
          booking.special_requests = b.special_requests.slice(0, 200);
        return send(200, booking);
      }
    }
    return send(404, { error: 'Not Found' });
  }).then((api) => Object.assign(api, { users, bookings }));
}

const identities = MEMBERS.map((m) => ({
  name: m.email.split('@')[0],
  login: { path: '/users/sign_in', body: { user: { email: m.email, password: m.password } } },
}));

describe('Rails-style bodies: the record under the model’s name is read and filled there', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startInnkeeper>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startInnkeeper, { identities, ratePerSecond: 300, checks: ['API1'] }),
    );
  });

  test('the given members’ passwords and seeded bookings are unchanged on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { users, bookings } = scans[kind].api;
      assert.deepEqual(
        users.filter((u) => MEMBERS.some((m) => m.id === u.id)),
        MEMBERS,
        `${kind}: a member's password changed`,
      );
      assert.deepEqual(
        bookings.filter((b) => SEEDED.some((s) => s.id === b.id)),
        SEEDED,
        kind,
      );
    }
  });

  test('the vulnerable twin: another member changes and cancels the scan’s booking (made with a listed room)', () => {
    const found = operationsFound(scans.vulnerable.result);
    for (const f of ['scan/api1-bola-write updateBooking', 'scan/api1-bola-delete destroyBooking'])
      assert.ok(found.includes(f), `${f} missing from:\n${found.join('\n')}`);
  });

  test('the fixed twin: no API1 finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
