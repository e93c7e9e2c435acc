import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A field journal in the style of a hapi API, on SQLite (node:sqlite): `POST /auth/sessions {email, password}`
 * answers `201 {credentials: {token}}`, Bearer tokens, Boom errors `{statusCode, error, message}`, camelCase
 * members, `POST /journal/entries {headline, body, mood}` answering `201` with the entry under `entry` and a
 * `Location`, `DELETE /journal/entries/{entryId}` answering 204. The vulnerable twin builds its INSERT with the
 * headline pasted in (`'<headline>'`); a failed query is a Boom 500 with no database text. Every probe of the
 * creation makes an entry: before, they all stayed in the data of the identity that sent them (alice's journal held
 * entries titled `x' OR '1'='1`). Now, with a sign-up (`POST /auth/accounts`), the probes go as an account of the
 * scan's own; without one, each entry a probe made as alice is deleted by alice through the documented DELETE.
 * Fixed twin: bound parameters.
 */
const boom = (status: number, error: string, message: string) => ({ statusCode: status, error, message });

function spec(signup: boolean) {
  const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
  const entry = {
    type: 'object',
    properties: {
      entryId: { type: 'integer' },
      headline: { type: 'string' },
      body: { type: 'string' },
      mood: { type: 'string', enum: ['calm', 'tired', 'bright'] },
    },
  };
  return {
    openapi: '3.0.3',
    info: { title: 'field journal', version: '0.9.2' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/auth/sessions': {
        post: {
          operationId: 'createSession',
          security: [],
          requestBody: json({
            type: 'object',
            properties: { email: { type: 'string', format: 'email' }, password: { type: 'string' } },
          }),
          responses: { '201': { description: 'signed in' } },
        },
      },
      ...(signup
        ? {
            '/auth/accounts': {
              post: {
                operationId: 'createAccount',
                security: [],
                requestBody: json({
                  type: 'object',
                  required: ['email', 'password', 'displayName'],
                  properties: {
                    email: { type: 'string', format: 'email' },
                    password: { type: 'string' },
                    displayName: { type: 'string' },
                  },
                }),
                responses: { '201': { description: 'account made' } },
              },
            },
          }
        : {}),
      '/journal/entries': {
        get: {
          operationId: 'listEntries',
          responses: {
            '200': { description: 'the caller’s entries', ...json({ type: 'array', items: entry }) },
          },
        },
        post: {
          operationId: 'createEntry',
          requestBody: json({
            type: 'object',
            required: ['headline'],
            properties: {
              headline: { type: 'string' },
              body: { type: 'string' },
              mood: { type: 'string', enum: ['calm', 'tired', 'bright'] },
            },
          }),
          responses: { '201': { description: 'made', ...json({ type: 'object', properties: { entry } }) } },
        },
      },
      '/journal/entries/{entryId}': {
        parameters: [{ name: 'entryId', in: 'path', required: true, schema: { type: 'integer' } }],
        get: {
          operationId: 'getEntry',
          responses: { '200': { description: 'the entry', ...json(entry) } },
        },
        delete: { operationId: 'deleteEntry', responses: { '204': { description: 'deleted' } } },
      },
    },
  };
}

const PEOPLE = [
  { email: 'alice@journal.test', password: 'Lichen-Trail-41', name: 'Alice' },
  { email: 'bob@journal.test', password: 'Fjord-Ledger-77', name: 'Bob' },
];

interface Journal extends TestServer {
  readonly db: DatabaseSync;
}

async function startJournal(fixed: boolean, signup: boolean): Promise<Journal> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, password TEXT, name TEXT)');
  db.exec(
    'CREATE TABLE entries (id INTEGER PRIMARY KEY, owner INTEGER, headline TEXT, body TEXT, mood TEXT)',
  );
  for (const p of PEOPLE)
    db.prepare('INSERT INTO people (email, password, name) VALUES (?, ?, ?)').run(
      p.email,
      p.password,
      p.name,
    );
  const seed = db.prepare('INSERT INTO entries (owner, headline, body, mood) VALUES (?, ?, ?, ?)');
  seed.run(1, 'Heron at dawn', 'Two herons by the weir.', 'calm');
  seed.run(1, 'Rain on the ridge', 'Turned back at the cairn.', 'tired');
  seed.run(2, 'Orchard count', 'Forty-one apple trees.', 'bright');
  const sessions = new Map<string, number>();
  const send = (
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, body === undefined ? headers : { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const view = (r: Record<string, unknown>) => ({
    entryId: r.id,
    headline: r.headline,
    body: r.body,
    mood: r.mood,
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const text = await readText(req);
    let input: Record<string, unknown> = {};
    if (text) {
      try {
        input = JSON.parse(text);
      } catch {
        return send(res, 400, boom(400, 'Bad Request', 'Invalid request payload JSON format'));
      }
    }
    if (req.method === 'POST' && url.pathname === '/auth/sessions') {
      const row = db
        .prepare('SELECT id FROM people WHERE email = ? AND password = ?')
        .get(String(input.email ?? ''), String(input.password ?? '')) as { id: number } | undefined;
      if (!row) return send(res, 401, boom(401, 'Unauthorized', 'Invalid email or password'));
      const token = randomBytes(16).toString('hex');
      sessions.set(token, row.id);
      return send(res, 201, { credentials: { token } });
    }
    if (signup && req.method === 'POST' && url.pathname === '/auth/accounts') {
      const { email, password, displayName } = input;
      if (typeof email !== 'string' || typeof password !== 'string' || typeof displayName !== 'string')
        return send(res, 400, boom(400, 'Bad Request', '"email", "password" and "displayName" are required'));
      try {
        const r = db
          .prepare('INSERT INTO people (email, password, name) VALUES (?, ?, ?)')
          .run(email, password, displayName);
        return send(res, 201, { account: { accountId: Number(r.lastInsertRowid), email, displayName } });
      } catch {
        return send(res, 409, boom(409, 'Conflict', 'Email already registered'));
      }
    }
    const me = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (me === undefined) return send(res, 401, boom(401, 'Unauthorized', 'Missing authentication'));
    if (url.pathname === '/journal/entries') {
      if (req.method === 'GET')
        return send(
          res,
          200,
          (
            db.prepare('SELECT * FROM entries WHERE owner = ? ORDER BY id').all(me) as Record<
              string,
              unknown
            >[]
          ).map(view),
        );
      if (req.method === 'POST') {
        if (typeof input.headline !== 'string')
          return send(res, 400, boom(400, 'Bad Request', '"headline" is required'));
        const body = typeof input.body === 'string' ? input.body : '';
        const mood = typeof input.mood === 'string' ? input.mood : 'calm';
        const r = fixed
          ? db
              .prepare('INSERT INTO entries (owner, headline, body, mood) VALUES (?, ?, ?, ?)')
              .run(me, input.headline, body, mood)
          : db
              .prepare(
                `INSERT INTO entries (owner, headline, body, mood) VALUES (?, '${input.headline}', ?, ?)`,
              )
              .run(me, body, mood);
        const id = Number(r.lastInsertRowid);
        const row = db.prepare('SELECT * FROM entries WHERE id = ?').get(id) as Record<string, unknown>;
        return send(res, 201, { entry: view(row) }, { location: `/journal/entries/${id}` });
      }
    }
    const m = /^\/journal\/entries\/(\d+)$/.exec(url.pathname);
    if (m) {
      const row = db.prepare('SELECT * FROM entries WHERE id = ? AND owner = ?').get(Number(m[1]), me) as
        | Record<string, unknown>
        | undefined;
      if (!row) return send(res, 404, boom(404, 'Not Found', 'Entry not found'));
      if (req.method === 'GET') return send(res, 200, view(row));
      if (req.method === 'DELETE') {
        db.prepare('DELETE FROM entries WHERE id = ?').run(row.id as number);
        return send(res, 204);
      }
    }
    return send(res, 404, boom(404, 'Not Found', 'Not Found'));
  };
  const api = await startServer((req, res) => {
    handle(req, res).catch(() =>
      send(res, 500, boom(500, 'Internal Server Error', 'An internal server error occurred')),
    );
  });
  return { ...api, db };
}

const entriesOf = (db: DatabaseSync, owner: number) =>
  db.prepare('SELECT id, headline, body, mood FROM entries WHERE owner = ? ORDER BY id').all(owner);

async function scanJournal(fixed: boolean, signup: boolean) {
  const api = await startJournal(fixed, signup);
  const before = [entriesOf(api.db, 1), entriesOf(api.db, 2)];
  try {
    const result = await scanDocument(spec(signup), api.url, {
      identities: PEOPLE.map((p) => ({
        name: p.name.toLowerCase(),
        login: {
          path: '/auth/sessions',
          body: { email: p.email, password: p.password },
          tokenPointer: '/credentials/token',
        },
      })),
      checks: ['API8'],
      ratePerSecond: 300,
      timeDelayMs: 300,
    });
    return { result, before, after: [entriesOf(api.db, 1), entriesOf(api.db, 2)], db: api.db };
  } finally {
    await api.close();
  }
}

/**
 * Alice's and bob's entries after the scan: the seeded ones unchanged, and besides them only what discovery's plain
 * creation made (one `portcullis-…` entry each, the object the other checks work on), no probe's payload.
 */
function assertKept(s: { before: unknown[][]; after: unknown[][] }): void {
  for (const [i, was] of s.before.entries()) {
    const now = s.after[i] as { headline: string }[];
    assert.deepEqual(now.slice(0, was.length), was);
    const added = now.slice(was.length).map((e) => e.headline);
    assert.ok(
      added.length <= 1 && added.every((h) => /^portcullis-[0-9a-f]{8}$/.test(h)),
      `left in ${PEOPLE[i].name}'s journal: ${JSON.stringify(added)}`,
    );
  }
}

const sqlOn = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api8-sql-injection')
    .map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`);

describe('the injection probes of a creation leave nothing in a given identity’s data', () => {
  test('with a sign-up: found, probed as the scan’s own account; alice’s and bob’s entries unchanged', async () => {
    const v = await scanJournal(false, true);
    assert.deepEqual(sqlOn(v.result), ['createEntry headline']);
    assertKept(v);
    const f = await scanJournal(true, true);
    assert.deepEqual(sqlOn(f.result), []);
    assertKept(f);
  });

  test('without a sign-up: found as alice, and every entry a probe made deleted by alice', async () => {
    const v = await scanJournal(false, false);
    assert.deepEqual(sqlOn(v.result), ['createEntry headline']);
    assertKept(v);
    assert.match(
      JSON.stringify(v.result.coverage),
      /the injection probes of POST \/journal\/entries created \d+ objects? as alice, all deleted/,
    );
  });
});
