import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A parcel-locker booking API in the style of a small Go service (plain-text errors, `Authorization: Token <key>`),
 * whose ids are those of a table without AUTOINCREMENT: a new row takes the highest id in use plus one, so the id of
 * a deleted last row is given out again. A waiting list stands behind it: when a booking is cancelled, the first
 * person waiting (carol, a real user the scan is not given) is booked at once, and gets that same id.
 *
 * Vulnerable twin: any signed-in caller reads, changes, extends and cancels any booking. Fixed twin: its holder only.
 * Review R1 (intermittent on a third-party API): the scan deleted its own object, the API gave the id to another
 * user's new object, and a later probe acted on it as if it were still the scan's.
 */
const bookingParam = { name: 'bookingId', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'locker bookings', version: '1.3.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/lockers': { get: { operationId: 'listLockers', responses: { '200': { description: 'lockers' } } } },
    '/bookings': {
      get: { operationId: 'myBookings', responses: { '200': { description: "the caller's bookings" } } },
      post: {
        operationId: 'book',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['locker_id', 'note'],
                properties: { locker_id: { type: 'integer' }, note: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'booked' } },
      },
    },
    '/bookings/{bookingId}': {
      get: {
        operationId: 'getBooking',
        parameters: [bookingParam],
        responses: { '200': { description: 'booking' } },
      },
      patch: {
        operationId: 'editBooking',
        parameters: [bookingParam],
        requestBody: {
          content: {
            'application/json': { schema: { type: 'object', properties: { note: { type: 'string' } } } },
          },
        },
        responses: { '200': { description: 'changed' } },
      },
      delete: {
        operationId: 'cancelBooking',
        parameters: [bookingParam],
        responses: { '204': { description: 'cancelled' } },
      },
    },
    '/bookings/{bookingId}/extend': {
      post: {
        operationId: 'extendBooking',
        parameters: [bookingParam],
        responses: { '200': { description: 'extended' } },
      },
    },
  },
};

const KEYS: Record<string, string> = {
  lena: 'lk_lena_0f3d91',
  omar: 'lk_omar_7b2e44',
  carol: 'lk_carol_55aa10',
};

interface Booking {
  id: number;
  holder: string;
  locker_id: number;
  note: string;
  days: number;
}

interface Lockers extends TwinTarget {
  readonly bookings: Booking[];
  /** Every booking carol was given, as it was given (by the waiting list). */
  readonly carols: Map<number, Booking>;
  /** What was done to carol's bookings by someone else: `PATCH 4`, `DELETE 4`, `extend 4`. */
  readonly touched: string[];
}

function text(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${body}\n`);
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function startLockers(fixed: boolean): Promise<Lockers> {
  const bookings: Booking[] = [{ id: 1, holder: 'carol', locker_id: 3, note: 'winter coats', days: 7 }];
  const carols = new Map<number, Booking>([[1, { ...bookings[0] }]]);
  const touched: string[] = [];
  // The next row's id: the highest in use plus one (SQLite's rowid without AUTOINCREMENT).
  const nextId = () => Math.max(0, ...bookings.map((b) => b.id)) + 1;
  const waiting = ['carol', 'carol', 'carol', 'carol', 'carol', 'carol', 'carol', 'carol'];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' || req.method === 'PATCH' ? await readJson(req) : undefined;
    if (req.method !== 'POST' && req.method !== 'PATCH') req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const user = Object.keys(KEYS).find((u) => req.headers.authorization === `Token ${KEYS[u]}`);
    if (!user) return text(res, 401, 'unauthorized');
    if (req.method === 'GET' && path === '/lockers')
      return json(
        res,
        200,
        [1, 2, 3, 4].map((id) => ({ id, site: 'Station Nord', size: id < 3 ? 'S' : 'L' })),
      );
    if (path === '/bookings' && req.method === 'GET')
      return json(
        res,
        200,
        bookings.filter((b) => b.holder === user),
      );
    if (path === '/bookings' && req.method === 'POST') {
      if (!Number.isInteger(body?.locker_id) || typeof body?.note !== 'string')
        return text(res, 400, 'bad booking');
      const b = {
        id: nextId(),
        holder: user,
        locker_id: body.locker_id as number,
        note: body.note as string,
        days: 3,
      };
      bookings.push(b);
      return json(res, 201, b);
    }
    const m = /^\/bookings\/(\d+)(\/extend)?$/.exec(path);
    const b = m ? bookings.find((x) => x.id === Number(m[1])) : undefined;
    if (!m || !b || (fixed && b.holder !== user)) return text(res, 404, 'not found');
    const others = b.holder === 'carol' && user !== 'carol';
    if (m[2] && req.method === 'POST') {
      if (others) touched.push(`extend ${b.id}`);
      b.days += 7;
      return json(res, 200, b);
    }
    if (m[2]) return text(res, 405, 'method not allowed');
    if (req.method === 'GET') return json(res, 200, b);
    if (req.method === 'PATCH') {
      if (others) touched.push(`PATCH ${b.id}`);
      if (typeof body?.note === 'string') b.note = body.note;
      return json(res, 200, b);
    }
    if (req.method === 'DELETE') {
      if (others) touched.push(`DELETE ${b.id}`);
      bookings.splice(bookings.indexOf(b), 1);
      // The waiting list: the first person waiting takes a locker at once, in a new row.
      const next = waiting.shift();
      if (next) {
        const given = { id: nextId(), holder: next, locker_id: 4, note: 'from the waiting list', days: 7 };
        bookings.push(given);
        carols.set(given.id, { ...given });
      }
      res.writeHead(204);
      return res.end();
    }
    text(res, 405, 'method not allowed');
  };
  return startServer((req, res) => void handle(req, res).catch(() => res.destroy())).then((s) => ({
    url: s.url,
    server: s.server,
    bookings,
    carols,
    touched,
  }));
}

describe('ids the API gives out again after the scan deleted its object', { timeout: 300_000 }, () => {
  let runs: TwinScans<Lockers>;
  before(async () => {
    runs = await scanTwins(SPEC, startLockers, {
      identities: headerIdentities('Authorization', { lena: KEYS.lena, omar: KEYS.omar }, 'Token'),
    });
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: no booking carol was given is changed, extended or cancelled by the scan`, () => {
      const { api, result } = runs[kind];
      assert.deepEqual(api.touched, [], `${kind}: ${result.notes.join('\n')}`);
    });
  }

  test('the vulnerable twin is still reported: another user cancels and reads a booking', () => {
    const ids = runs.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`);
    assert.ok(ids.includes('scan/api1-bola-read getBooking'), ids.join('\n'));
    assert.deepEqual(
      runs.fixed.result.findings.filter((f) => f.rule.id.startsWith('scan/api1-')).map((f) => f.rule.id),
      [],
    );
  });
});
