import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { connectPostgres, POSTGRES_URL, type PostgresAdmin } from '../kit/postgres.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * The credential itself is an input: APIs that look the caller's token or key up with SQL built from the header.
 *
 * 1. Field notes (node:sqlite), `Authorization: Token <t>`: the vulnerable twin runs
 *    `SELECT member FROM api_tokens WHERE token = '<t>'` and takes the first row; any error is hidden as
 *    `500 {"fault": "internal"}`, no token `401 {"fault": "who are you"}`. A tautology in place of the token reads the
 *    first member's notes (boolean-based).
 * 2. Weather stations (PostgreSQL), `X-Station-Key: <k>`: the vulnerable twin looks the key up the same way but lets in
 *    only a lookup that found exactly one row, and answers every failure, database errors included, with the same
 *    `403 {"denied": true}`: no error text, no bypass, only a delay shows it (time-based).
 * 3. A guest house (node:sqlite) whose login sets a `stay_session` cookie: the vulnerable twin looks the session id up
 *    with `WHERE sid = '<cookie>'` and shows the database's message in a 500 (error-based).
 * 4. Rentals (node:sqlite) behind HTTP Basic: the vulnerable twin checks `name = '<user>' AND pass = '<password>'` in
 *    one SELECT, errors hidden as 500: a comment-terminated tautology as the user name lets in (a login bypass).
 * The fixed twins bind the value. Before this change the header or cookie was never probed (no finding on either
 * twin).
 */
const ok = (schema: object) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});
const NOTES_SPEC = {
  openapi: '3.0.3',
  info: { title: 'field notes', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/v1/notes': {
      get: { operationId: 'myNotes', responses: ok({ type: 'array', items: { type: 'object' } }) },
    },
  },
};
const NOTE_TOKENS: Record<string, string> = { 'nt-7d1e40c9b2a6f385': 'rosa', 'nt-25c8e9f01a7b4d36': 'tomas' };

function startNotes(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE api_tokens(token TEXT PRIMARY KEY, member TEXT);
    CREATE TABLE notes(id INTEGER PRIMARY KEY, member TEXT, body TEXT);
    INSERT INTO notes(member, body) VALUES ('rosa', 'heron at the weir'), ('tomas', 'otter tracks, east bank');`);
  for (const [t, m] of Object.entries(NOTE_TOKENS))
    db.prepare('INSERT INTO api_tokens VALUES (?, ?)').run(t, m);
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const token = /^Token (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    let member: string | undefined;
    try {
      const row = fixed
        ? db.prepare('SELECT member FROM api_tokens WHERE token = ?').get(token)
        : db.prepare(`SELECT member FROM api_tokens WHERE token = '${token}'`).get();
      member = row?.member as string | undefined;
    } catch {
      return sendJson(res, 500, { fault: 'internal' });
    }
    if (!member) return sendJson(res, 401, { fault: 'who are you' });
    if (req.method === 'GET' && url.pathname === '/v1/notes')
      return sendJson(res, 200, db.prepare('SELECT id, body FROM notes WHERE member = ?').all(member));
    return sendJson(res, 404, { fault: 'no route' });
  });
}

const STAY_SPEC = {
  openapi: '3.0.3',
  info: { title: 'guest house', version: '1' },
  components: { securitySchemes: { stay: { type: 'apiKey', in: 'cookie', name: 'stay_session' } } },
  security: [{ stay: [] }],
  paths: {
    '/auth/login': {
      post: {
        operationId: 'login',
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
        responses: { '204': { description: 'signed in, a cookie set' }, '401': { description: 'no' } },
      },
    },
    '/bookings': {
      get: { operationId: 'myBookings', responses: ok({ type: 'array', items: { type: 'object' } }) },
    },
  },
};
const GUESTS = [
  { email: 'ada@stay.test', password: 'ada-pass-5512' },
  { email: 'ben@stay.test', password: 'ben-pass-0937' },
];

function startStay(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE stays(sid TEXT PRIMARY KEY, guest TEXT);
    CREATE TABLE bookings(id INTEGER PRIMARY KEY, guest TEXT, room TEXT);
    INSERT INTO bookings(guest, room) VALUES ('ada@stay.test', 'attic'), ('ben@stay.test', 'garden');`);
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/auth/login') {
      const b = await readJson(req);
      const g = GUESTS.find((x) => x.email === b?.email && x.password === b?.password);
      if (!g) return sendJson(res, 401, { error: 'no' });
      const sid = randomBytes(10).toString('hex');
      db.prepare('INSERT INTO stays VALUES (?, ?)').run(sid, g.email);
      res.writeHead(204, { 'set-cookie': `stay_session=${sid}; Path=/; HttpOnly` });
      return res.end();
    }
    const raw = /(?:^|;\s*)stay_session=([^;]*)/.exec(String(req.headers.cookie ?? ''))?.[1] ?? '';
    const sid = decodeURIComponent(raw);
    let guest: string | undefined;
    try {
      const row = fixed
        ? db.prepare('SELECT guest FROM stays WHERE sid = ?').get(sid)
        : db.prepare(`SELECT guest FROM stays WHERE sid = '${sid}' LIMIT 1`).get();
      guest = row?.guest as string | undefined;
    } catch (err) {
      // The database's own message, as a careless error handler shows it.
      return sendJson(res, 500, { error: (err as Error).message });
    }
    if (!guest) return sendJson(res, 401, { error: 'sign in' });
    if (req.method === 'GET' && url.pathname === '/bookings')
      return sendJson(res, 200, db.prepare('SELECT id, room FROM bookings WHERE guest = ?').all(guest));
    return sendJson(res, 404, { error: 'no route' });
  });
}

const RENTAL_SPEC = {
  openapi: '3.0.3',
  info: { title: 'rentals', version: '1' },
  components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
  security: [{ basic: [] }],
  paths: {
    '/rentals/current': {
      get: { operationId: 'currentRentals', responses: ok({ type: 'array', items: { type: 'object' } }) },
    },
  },
};
const RENTERS = [
  { name: 'ilse', pass: 'ilse-pw-3391' },
  { name: 'kofi', pass: 'kofi-pw-8824' },
];

function startRentals(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE renters(id INTEGER PRIMARY KEY, name TEXT UNIQUE, pass TEXT);
    CREATE TABLE rentals(id INTEGER PRIMARY KEY, renter INTEGER, item TEXT);
    INSERT INTO rentals(renter, item) VALUES (1, 'kayak'), (2, 'tent');`);
  for (const r of RENTERS) db.prepare('INSERT INTO renters(name, pass) VALUES (?, ?)').run(r.name, r.pass);
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const b64 = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    const text = Buffer.from(b64, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    const [user, pass] = colon < 0 ? ['', ''] : [text.slice(0, colon), text.slice(colon + 1)];
    let renter: number | undefined;
    try {
      const row = fixed
        ? db.prepare('SELECT id FROM renters WHERE name = ? AND pass = ?').get(user, pass)
        : db.prepare(`SELECT id FROM renters WHERE name = '${user}' AND pass = '${pass}'`).get();
      renter = row?.id as number | undefined;
    } catch {
      return sendJson(res, 500, { err: 'x' });
    }
    if (renter === undefined) return sendJson(res, 401, { err: 'credentials' });
    if (req.method === 'GET' && url.pathname === '/rentals/current')
      return sendJson(res, 200, db.prepare('SELECT id, item FROM rentals WHERE renter = ?').all(renter));
    return sendJson(res, 404, { err: 'route' });
  });
}

const STATION_SPEC = {
  openapi: '3.0.3',
  info: { title: 'stations', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Station-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/readings/latest': {
      get: { operationId: 'latestReading', responses: ok({ type: 'object' }) },
    },
  },
};
const STATION_KEYS: Record<string, string> = { 'sk-b3e1': 'ridge-01', 'sk-9f0a': 'marsh-02' };

describe('the credential as an input', () => {
  let admin: PostgresAdmin;
  const notes = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const stations = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const stays = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const rentals = {} as Record<'vulnerable' | 'fixed', ScanResult>;

  async function startStations(fixed: boolean): Promise<{ api: TestServer; db: pg.Client }> {
    const schema = admin.freshSchema('pc_station');
    const db = new pg.Client(POSTGRES_URL);
    await db.connect();
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`SET search_path TO "${schema}"`);
    await db.query('CREATE TABLE station_keys (key TEXT PRIMARY KEY, station TEXT)');
    for (const [k, s] of Object.entries(STATION_KEYS))
      await db.query('INSERT INTO station_keys VALUES ($1, $2)', [k, s]);
    const api = await startServer(async (req, res) => {
      const key = String(req.headers['x-station-key'] ?? '');
      let station: string | undefined;
      try {
        const r = fixed
          ? await db.query('SELECT station FROM station_keys WHERE key = $1', [key])
          : await db.query(`SELECT station FROM station_keys WHERE key = '${key}'`);
        if (r.rows.length === 1) station = String(r.rows[0].station);
      } catch {
        // Every failure looks the same.
      }
      if (!station) return sendJson(res, 403, { denied: true });
      if (req.method === 'GET' && req.url === '/readings/latest')
        return sendJson(res, 200, { station, celsius: 11.5, at: '2026-12-07T10:00:00Z' });
      return sendJson(res, 404, { denied: false, route: 'none' });
    });
    return { api, db };
  }

  before(async () => {
    admin = await connectPostgres();
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startNotes(kind === 'fixed');
      try {
        notes[kind] = await scanDocument(NOTES_SPEC, api.url, {
          identities: Object.entries(NOTE_TOKENS).map(([t, name]) => ({
            name,
            headers: { Authorization: `Token ${t}` },
          })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
      } finally {
        await api.close();
      }
      const stay = await startStay(kind === 'fixed');
      try {
        stays[kind] = await scanDocument(STAY_SPEC, stay.url, {
          identities: GUESTS.map((g) => ({
            name: g.email.split('@')[0],
            login: { path: '/auth/login', body: { email: g.email, password: g.password } },
          })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
      } finally {
        await stay.close();
      }
      const rent = await startRentals(kind === 'fixed');
      try {
        rentals[kind] = await scanDocument(RENTAL_SPEC, rent.url, {
          identities: RENTERS.map((r) => ({
            name: r.name,
            headers: { Authorization: `Basic ${Buffer.from(`${r.name}:${r.pass}`).toString('base64')}` },
          })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
      } finally {
        await rent.close();
      }
      const s = await startStations(kind === 'fixed');
      try {
        stations[kind] = await scanDocument(STATION_SPEC, s.api.url, {
          identities: Object.entries(STATION_KEYS).map(([k, name]) => ({
            name,
            headers: { 'X-Station-Key': k },
          })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 400,
        });
      } finally {
        await s.api.close();
        await s.db.end();
      }
    }
  });
  after(async () => admin?.close());

  const sql = (r: ScanResult) =>
    r.findings
      .filter((f) => f.rule.id === 'scan/api8-sql-injection')
      .map((f) => `${f.operation?.operationId} ${String(f.evidence?.parameter)}`);

  test('a token looked up with string-built SQL: boolean-based on the vulnerable twin only', () => {
    assert.deepEqual(sql(notes.vulnerable), ['myNotes authorization']);
    const f = notes.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-sql-injection');
    assert.match(f!.message, /boolean-based/);
    // The curl line carries the scan's made-up value, never a given token.
    assert.doesNotMatch(String(f!.evidence?.curl), /nt-7d1e|nt-25c8/);
    assert.deepEqual(sql(notes.fixed), []);
  });

  test('a session cookie looked up with string-built SQL: error-based on the vulnerable twin only', () => {
    const found = stays.vulnerable.findings.filter(
      (f) => f.rule.id === 'scan/api8-sql-injection' && f.evidence?.location === 'cookie',
    );
    assert.deepEqual(
      found.map((f) => `${f.operation?.operationId} ${String(f.evidence?.parameter)}`),
      ['myBookings stay_session'],
    );
    assert.match(found[0].message, /database error/);
    assert.deepEqual(sql(stays.fixed), []);
  });

  test('a Basic user name looked up with string-built SQL: a login bypass on the vulnerable twin only', () => {
    assert.deepEqual(sql(rentals.vulnerable), ['currentRentals authorization']);
    const f = rentals.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-sql-injection');
    assert.match(f!.message, /login bypass/);
    assert.doesNotMatch(String(f!.evidence?.curl), /aWxzZ|a29ma/);
    assert.deepEqual(sql(rentals.fixed), []);
  });

  test('a key whose every failure answers alike: time-based on the vulnerable twin only', () => {
    assert.deepEqual(sql(stations.vulnerable), ['latestReading x-station-key']);
    const f = stations.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-sql-injection');
    assert.match(f!.message, /time-based/);
    assert.deepEqual(sql(stations.fixed), []);
  });
});
