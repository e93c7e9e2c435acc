import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Session 15's measurement missed stack traces that only a value of the wrong kind in a typed input shows (a Flask
 * debug page for `int("abc")` on a JSON `quantity`, an Express error handler printing `err.stack`): the scan sent
 * wrong kinds only to path parameters. Here a Fastify-style cinema API (`{statusCode, error, message}` errors, an
 * `X-Api-Token` header) whose error handler adds the stack: `?limit=` read with `BigInt()`, a negative `?page=`
 * reaching `Buffer.alloc`, a booking's `seats` read with `.toFixed()`, and `?title[]=` (a list, as qs reads it) met
 * by `.toLowerCase()` on a route whose Express error page prints the stack as HTML. The fixed twin checks each input's kind
 * (400, no stack) and answers the same otherwise.
 */
const token = [{ token: [] }];
const integer = { type: 'integer' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'cinema', version: '4.1.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Api-Token' } } },
  security: token,
  paths: {
    '/v1/screenings': {
      get: {
        operationId: 'listScreenings',
        parameters: [
          { name: 'limit', in: 'query', schema: integer },
          { name: 'day', in: 'query', schema: { type: 'string', format: 'date' } },
        ],
        responses: { '200': { description: 'screenings' } },
      },
    },
    '/v1/reviews': {
      get: {
        operationId: 'listReviews',
        parameters: [{ name: 'page', in: 'query', schema: { type: 'integer', minimum: 1 } }],
        responses: { '200': { description: 'reviews' } },
      },
    },
    '/v1/films': {
      get: {
        operationId: 'searchFilms',
        parameters: [{ name: 'title', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'films' } },
      },
    },
    '/v1/bookings': {
      get: { operationId: 'listBookings', responses: { '200': { description: 'my bookings' } } },
      post: {
        operationId: 'createBooking',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { screening_id: integer, seats: integer, note: { type: 'string' } },
                required: ['screening_id', 'seats'],
              },
            },
          },
        },
        responses: { '201': { description: 'booked' } },
      },
    },
    '/v1/bookings/{id}': {
      get: {
        operationId: 'getBooking',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a booking' } },
      },
      delete: {
        operationId: 'cancelBooking',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '204': { description: 'cancelled' } },
      },
    },
  },
};

const TOKENS = { ana: 'tk-ana-5c1f90', ben: 'tk-ben-77ad02' };
const SCREENINGS = [
  { id: 1, film: 'Nocturne', day: '2026-12-08' },
  { id: 2, film: 'Tidewater', day: '2026-12-09' },
];

interface Cinema extends TwinTarget {
  readonly bookings: Map<string, { id: string; owner: string; screening_id: number; seats: number }>;
}

async function startCinema(fixed: boolean): Promise<Cinema> {
  const bookings: Cinema['bookings'] = new Map();
  const owners = new Map(Object.entries(TOKENS).map(([name, t]) => [t, name]));
  const handle = async (
    method: string,
    url: URL,
    who: string,
    body: Record<string, unknown> | undefined,
  ): Promise<[number, unknown]> => {
    const q = url.searchParams;
    const bad = (message: string): [number, unknown] => [
      400,
      { statusCode: 400, error: 'Bad Request', message },
    ];
    if (method === 'GET' && url.pathname === '/v1/screenings') {
      if (fixed && q.has('limit') && !/^\d+$/.test(q.get('limit') ?? ''))
        return bad('querystring/limit must be integer');
      if (fixed && q.has('day') && !/^\d{4}-\d{2}-\d{2}$/.test(q.get('day') ?? ''))
        return bad('querystring/day must match format "date"');
      const limit = q.has('limit') ? Number(BigInt(q.get('limit') ?? '')) : 20;
      return [200, SCREENINGS.slice(0, limit)];
    }
    if (method === 'GET' && url.pathname === '/v1/reviews') {
      const page = q.has('page') ? Number.parseInt(q.get('page') ?? '', 10) || 1 : 1;
      if (fixed && page < 1) return bad('querystring/page must be >= 1');
      const cursor = Buffer.alloc((page - 1) * 8);
      return [200, { page, cursor: cursor.length, reviews: [{ film: 'Nocturne', stars: 4 }] }];
    }
    if (method === 'GET' && url.pathname === '/v1/films') {
      // qs reads `title[]=x` as a list; the vulnerable twin calls a string method on whatever came.
      const listed = q.getAll('title[]');
      if (fixed && listed.length > 0) return bad('querystring/title must be string');
      const title = (listed.length > 0 ? listed : (q.get('title') ?? '')) as string;
      const want = title.toLowerCase();
      return [200, SCREENINGS.filter((f) => f.film.toLowerCase().includes(want))];
    }
    if (url.pathname === '/v1/bookings' && method === 'GET')
      return [200, [...bookings.values()].filter((b) => b.owner === who)];
    if (url.pathname === '/v1/bookings' && method === 'POST') {
      if (!body) return bad('body must be object');
      if (fixed && (!Number.isInteger(body.screening_id) || !Number.isInteger(body.seats)))
        return bad('body/seats must be integer');
      const seats = Number((body.seats as number).toFixed(0));
      const b = {
        id: randomBytes(4).toString('hex'),
        owner: who,
        screening_id: Number(body.screening_id),
        seats,
      };
      bookings.set(b.id, b);
      return [201, b];
    }
    const m = /^\/v1\/bookings\/([^/]+)$/.exec(url.pathname);
    const b = m ? bookings.get(m[1]) : undefined;
    if (m && (!b || b.owner !== who))
      return [404, { statusCode: 404, error: 'Not Found', message: 'no booking' }];
    if (b && method === 'GET') return [200, b];
    if (b && method === 'DELETE') {
      bookings.delete(b.id);
      return [204, undefined];
    }
    return [
      404,
      { statusCode: 404, error: 'Not Found', message: `Route ${method}:${url.pathname} not found` },
    ];
  };
  const server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const who = owners.get(String(req.headers['x-api-token'] ?? ''));
    if (!who)
      return sendJson(res, 401, { statusCode: 401, error: 'Unauthorized', message: 'token' }, GUARDED_JSON);
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    try {
      const [status, payload] = await handle(req.method ?? 'GET', url, who, body);
      if (status === 204) {
        res.writeHead(204, GUARDED_JSON);
        return res.end();
      }
      return sendJson(res, status, payload, GUARDED_JSON);
    } catch (e) {
      // The vulnerable twin's error handlers (the fixed twin never gets here): the films route, mounted from an
      // Express app in development, answers Express's HTML error page; the others the message and the stack as JSON.
      const err = e as Error;
      if (url.pathname === '/v1/films') {
        res.writeHead(500, {
          'content-type': 'text/html; charset=utf-8',
          'x-content-type-options': 'nosniff',
        });
        const html = (err.stack ?? '')
          .replace(/&/g, '&amp;')
          .replace(/</g, '&lt;')
          .replace(/\n/g, '<br>')
          .replace(/ {2}/g, ' &nbsp;');
        return res.end(
          `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>${html}</pre>\n</body>\n</html>\n`,
        );
      }
      return sendJson(
        res,
        500,
        { statusCode: 500, error: 'Internal Server Error', message: err.message, stack: err.stack },
        GUARDED_JSON,
      );
    }
  });
  return { ...server, bookings };
}

const verbose = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api8-verbose-errors')
    .map((f) => f.operation?.operationId)
    .sort();

describe('stack traces shown only by a value of the wrong kind in a typed input', () => {
  let runs: TwinScans<Cinema>;
  before(async () => {
    runs = await scanTwins(SPEC, startCinema, {
      identities: headerIdentities('X-Api-Token', TOKENS),
      checks: ['API8'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: the typed query inputs, the typed body member and a text input sent as an array show stack traces', () => {
    assert.deepEqual(verbose(runs.vulnerable.result), [
      'createBooking',
      'listReviews',
      'listScreenings',
      'searchFilms',
    ]);
    // Express's HTML page prints the stack with <br> and &nbsp; between its frames: a stack trace, not a message alone.
    const films = runs.vulnerable.result.findings.find((f) => f.operation?.operationId === 'searchFilms');
    assert.match(films?.message ?? '', /with a stack trace/);
    const reviews = runs.vulnerable.result.findings.find((f) => f.operation?.operationId === 'listReviews');
    assert.match(JSON.stringify(reviews?.evidence), /page=-1/);
  });

  test('the bookings the probes made are deleted again', () => {
    assert.equal(runs.vulnerable.api.bookings.size, 0);
    assert.equal(runs.fixed.api.bookings.size, 0);
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
