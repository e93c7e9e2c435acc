import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { connectPostgres, POSTGRES_URL, type PostgresAdmin } from '../kit/postgres.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A shipment desk on the shared PostgreSQL (a fresh schema per twin), in an async-handler Node style: bearer tokens
 * from `POST /auth {user, pass}`, shipments owned by whoever booked them. `POST /shipments/{id}/approve` answers
 * `202 {"status": "queued"}` whatever happens, errors included: nothing in an answer tells a probe apart.
 * Vulnerable: the approval pastes the id into its UPDATE unquoted (`WHERE id = <id> AND owner = $1`), so only a
 * sleep joined to the number shows it. Fixed twin: the id is bound.
 */
const USERS = [
  { id: 1, user: 'mira', pass: 'pw-mira-6610' },
  { id: 2, user: 'teo', pass: 'pw-teo-1905' },
];

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shipment desk', version: '3.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth': {
      post: {
        operationId: 'auth',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { user: { type: 'string' }, pass: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/shipments': {
      get: { operationId: 'listShipments', responses: { '200': { description: 'the caller’s shipments' } } },
      post: {
        operationId: 'bookShipment',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['weight_kg'],
                properties: { weight_kg: { type: 'integer', minimum: 1, maximum: 30 } },
              },
            },
          },
        },
        responses: { '201': { description: 'booked' } },
      },
    },
    '/shipments/{shipment_id}': {
      parameters: [{ name: 'shipment_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'shipment', responses: { '200': { description: 'a shipment' } } },
    },
    '/shipments/{shipment_id}/approve': {
      parameters: [{ name: 'shipment_id', in: 'path', required: true, schema: { type: 'integer' } }],
      post: { operationId: 'approve', responses: { '202': { description: 'queued' } } },
    },
  },
};

interface Desk {
  readonly url: string;
  readonly server: Server;
  readonly db: pg.Client;
}

describe('a numeric id pasted into a write that answers alike whatever happens: time-based on the scan’s own shipment', () => {
  let admin: PostgresAdmin;
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Desk }>;
  const seeded = {} as Record<'vulnerable' | 'fixed', unknown>;

  async function startDesk(fixed: boolean): Promise<Desk> {
    const schema = admin.freshSchema('pc_desk');
    const db = new pg.Client(POSTGRES_URL);
    await db.connect();
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`SET search_path TO "${schema}"`);
    await db.query('CREATE TABLE shipments (id SERIAL PRIMARY KEY, owner INT, weight_kg INT, approved BOOL)');
    await db.query('INSERT INTO shipments (owner, weight_kg, approved) VALUES (1, 4, false), (2, 9, false)');
    const tokens = new Map<string, number>();
    const api = await startServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      try {
        if (req.method === 'POST' && url.pathname === '/auth') {
          const b = await readJson(req);
          const u = USERS.find((x) => x.user === b?.user && x.pass === b?.pass);
          if (!u) return sendJson(res, 401, { message: 'who are you?' });
          const token = randomBytes(16).toString('hex');
          tokens.set(token, u.id);
          return sendJson(res, 200, { token });
        }
        const uid = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /i, ''));
        if (uid === undefined) return sendJson(res, 401, { message: 'token required' });
        if (url.pathname === '/shipments' && req.method === 'GET') {
          const r = await db.query('SELECT id, weight_kg, approved FROM shipments WHERE owner = $1', [uid]);
          return sendJson(res, 200, r.rows);
        }
        if (url.pathname === '/shipments' && req.method === 'POST') {
          const b = await readJson(req);
          const r = await db.query(
            'INSERT INTO shipments (owner, weight_kg, approved) VALUES ($1, $2, false) RETURNING id',
            [uid, Number(b?.weight_kg) || 1],
          );
          return sendJson(res, 201, { id: r.rows[0].id });
        }
        const item = /^\/shipments\/([^/]+)$/.exec(url.pathname);
        if (item && req.method === 'GET') {
          const r = await db.query(
            'SELECT id, weight_kg, approved FROM shipments WHERE id::text = $1 AND owner = $2',
            [decodeURIComponent(item[1]), uid],
          );
          return r.rows[0]
            ? sendJson(res, 200, r.rows[0])
            : sendJson(res, 404, { message: 'no such shipment' });
        }
        const approve = /^\/shipments\/([^/]+)\/approve$/.exec(url.pathname);
        if (approve && req.method === 'POST') {
          const id = decodeURIComponent(approve[1]);
          try {
            if (fixed)
              await db.query('UPDATE shipments SET approved = true WHERE id::text = $1 AND owner = $2', [
                id,
                uid,
              ]);
            else
              await db.query(`UPDATE shipments SET approved = true WHERE id = ${id} AND owner = $1`, [uid]);
          } catch {
            // Swallowed: the answer is the same whatever happened.
          }
          return sendJson(res, 202, { status: 'queued' });
        }
        sendJson(res, 404, { message: 'no route' });
      } catch {
        sendJson(res, 500, { message: 'server error' });
      }
    });
    const close = api.server.close.bind(api.server);
    api.server.close = ((cb?: (err?: Error) => void) => {
      void db
        .query('SELECT id, approved FROM shipments WHERE id IN (1, 2) ORDER BY id')
        .then((r) => {
          seeded[fixed ? 'fixed' : 'vulnerable'] = r.rows;
        })
        .finally(() => db.end());
      return close(cb);
    }) as typeof api.server.close;
    return { ...api, db };
  }

  before(async () => {
    admin = await connectPostgres();
    const login = (u: (typeof USERS)[number]) => ({
      name: u.user,
      login: { path: '/auth', body: { user: u.user, pass: u.pass } },
    });
    Object.assign(
      scans,
      await scanTwins(SPEC, startDesk, {
        identities: [login(USERS[0]), login(USERS[1])],
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
    // The twins' connections end as their servers close; wait for the seeded rows read then.
    for (let i = 0; i < 50 && (seeded.vulnerable === undefined || seeded.fixed === undefined); i++)
      await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    await admin?.close();
  });

  test('the approval’s id is SQL injection, time-based, on a shipment the scan booked', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`),
      ['approve shipment_id'],
      sql.map((f) => `${f.message} ${JSON.stringify(f.evidence)}`).join('\n'),
    );
    assert.match(sql[0].message, /time-based/);
    assert.match(String(sql[0].evidence?.payload), /PG_SLEEP/);
  });

  test('the seeded shipments were never approved, and the fixed twin has no injection finding', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        seeded[kind],
        [
          { id: 1, approved: false },
          { id: 2, approved: false },
        ],
        kind,
      );
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
