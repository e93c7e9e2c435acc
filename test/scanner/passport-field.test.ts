import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A hotel's online check-in: a public form (`POST /desk/checkins`, no security) takes a guest's name, passport
 * number and nights, and a signed-in clerk reads the check-ins. A field whose name only starts like a password
 * (`passport_no`) sets no password: the form is no password setter, and its inputs are probed like any other.
 *
 * Vulnerable: the check-in pastes its fields into its INSERT (a quote answers SQLite's error). Fixed twin: the
 * INSERT is prepared.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'front desk', version: '4.2' },
  components: { securitySchemes: { clerk: { type: 'apiKey', in: 'header', name: 'X-Clerk-Key' } } },
  security: [{ clerk: [] }],
  paths: {
    '/desk/checkins': {
      get: { operationId: 'listCheckins', responses: { '200': { description: 'check-ins' } } },
      post: {
        operationId: 'checkIn',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['guest_name', 'passport_no', 'nights'],
                properties: {
                  guest_name: { type: 'string' },
                  passport_no: { type: 'string' },
                  nights: { type: 'integer', minimum: 1 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'checked in' } },
      },
    },
  },
};

async function jsonOf(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

interface Desk {
  readonly url: string;
  readonly server: import('node:http').Server;
}

const CLERKS: Record<string, string> = { 'ck-3f9a1e': 'ines', 'ck-77b20c': 'tom' };

async function startDesk(fixed: boolean): Promise<Desk> {
  const db = new DatabaseSync(':memory:');
  db.exec(
    'CREATE TABLE checkins (id INTEGER PRIMARY KEY, guest_name TEXT, passport_no TEXT, nights INTEGER)',
  );
  const server = await startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await jsonOf(req);
    if (url.pathname !== '/desk/checkins') return send(404, { error: 'not found' });
    if (req.method === 'POST') {
      const { guest_name: name, passport_no: passport, nights } = body;
      if (typeof name !== 'string' || typeof passport !== 'string' || !Number.isInteger(nights))
        return send(400, { error: 'guest_name, passport_no and nights are required' });
      try {
        if (fixed)
          db.prepare('INSERT INTO checkins (guest_name, passport_no, nights) VALUES (?, ?, ?)').run(
            name,
            passport,
            nights as number,
          );
        else
          db.exec(
            `INSERT INTO checkins (guest_name, passport_no, nights) VALUES ('${name}', '${passport}', ${Number(nights)})`,
          );
      } catch (e) {
        return send(500, { error: `database error: ${(e as Error).message}` });
      }
      return send(201, { status: 'checked in' });
    }
    if (req.method === 'GET') {
      if (CLERKS[String(req.headers['x-clerk-key'])] === undefined)
        return send(401, { error: 'clerk key needed' });
      return send(200, db.prepare('SELECT id, guest_name, nights FROM checkins').all());
    }
    return send(405, { error: 'method not allowed' });
  });
  return { url: server.url, server: server.server };
}

describe('a public form with a passport number', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Desk }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startDesk, {
      identities: [
        { name: 'ines', headers: { 'X-Clerk-Key': 'ck-3f9a1e' } },
        { name: 'tom', headers: { 'X-Clerk-Key': 'ck-77b20c' } },
      ],
      checks: ['API8'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable;
    runs.fixed = scans.fixed;
  });

  test('its fields are probed: the SQL injection is found', () => {
    const found = operationsFound(runs.vulnerable.result);
    assert.ok(found.includes('scan/api8-sql-injection checkIn'), found.join('\n'));
  });

  test('the fixed twin: no injection finding', () => {
    const found = operationsFound(runs.fixed.result).filter((f) => /injection/.test(f));
    assert.deepEqual(found, []);
  });
});
