import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Django REST-style payroll service: `Authorization: Token <key>` from `POST /api/auth/login`, each employee's
 * tax file at `GET /api/me`, their account at `GET /api/users/me`.
 *
 * Both twins: the login answers `expires_in` and a `user` object its schema does not declare, the account
 * read answers `created_at`, `theme` and `last_login` beyond its schema (schema drift, nothing sensitive), and
 * each employee's own tax id, social security number and card number come back to them at `GET /api/me`:
 * none is a finding.
 * Vulnerable: the staff directory `GET /api/employees` shows every employee's social security number and an
 * undeclared bcrypt `password_hash` to any employee (API3 sensitive data, API3 undeclared fields). Fixed twin:
 * names and departments only.
 */
const obj = (properties: Record<string, unknown>) => ({
  'application/json': { schema: { type: 'object', properties } },
});
const str = { type: 'string' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'payroll', version: '1.0' },
  components: {
    securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } },
  },
  security: [{ token: [] }],
  paths: {
    '/api/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: { required: true, content: obj({ username: str, password: str }) },
        responses: { '200': { description: 'token', content: obj({ token: str }) } },
      },
    },
    '/api/users/me': {
      get: {
        operationId: 'account',
        responses: {
          '200': {
            description: 'account',
            content: obj({ id: { type: 'integer' }, username: str, email: str }),
          },
        },
      },
    },
    '/api/me': {
      get: {
        operationId: 'taxFile',
        responses: {
          '200': {
            description: 'own tax file',
            content: obj({
              id: { type: 'integer' },
              username: str,
              email: str,
              tax_id: str,
              ssn: str,
              card_number: str,
            }),
          },
        },
      },
    },
    '/api/employees': {
      get: {
        operationId: 'employees',
        responses: {
          '200': {
            description: 'directory',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { id: { type: 'integer' }, username: str, department: str, ssn: str },
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

const PEOPLE = [
  {
    id: 11,
    username: 'ines',
    password: 'Ines-pay-2291',
    email: 'ines@payroll.example',
    tax_id: 'DE-48291733',
    ssn: '219-09-9999',
    card_number: '4111111111111111',
    department: 'finance',
  },
  {
    id: 12,
    username: 'otto',
    password: 'Otto-pay-8812',
    email: 'otto@payroll.example',
    tax_id: 'DE-93817261',
    ssn: '457-55-5462',
    card_number: '5500005555555559',
    department: 'logistics',
  },
];

function startPayroll(fixed: boolean) {
  const tokens = new Map<string, (typeof PEOPLE)[number]>();
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown) => sendJson(res, status, payload, GUARDED_JSON);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/auth/login') {
      let body: { username?: unknown; password?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      } catch {
        return send(400, { detail: 'JSON parse error' });
      }
      const p = PEOPLE.find((x) => x.username === body.username && x.password === body.password);
      if (!p) return send(400, { non_field_errors: ['Unable to log in with provided credentials.'] });
      const token = `${p.username}-${Math.random().toString(36).slice(2, 12)}`;
      if (tokens.size < 1000) tokens.set(token, p);
      return send(200, { token, expires_in: 3600, user: { id: p.id, username: p.username } });
    }
    const me = tokens.get(String(req.headers.authorization ?? '').replace(/^Token /, ''));
    if (!me) return send(401, { detail: 'Authentication credentials were not provided.' });
    if (req.method !== 'GET') return send(405, { detail: 'Method not allowed.' });
    if (path === '/api/users/me')
      return send(200, {
        id: me.id,
        username: me.username,
        email: me.email,
        created_at: '2024-02-01T09:00:00Z',
        theme: 'light',
        last_login: '2026-12-01T08:12:00Z',
      });
    if (path === '/api/me')
      return send(200, {
        id: me.id,
        username: me.username,
        email: me.email,
        tax_id: me.tax_id,
        ssn: me.ssn,
        card_number: me.card_number,
      });
    if (path === '/api/employees')
      return send(
        200,
        PEOPLE.map((p) =>
          fixed
            ? { id: p.id, username: p.username, department: p.department }
            : {
                id: p.id,
                username: p.username,
                department: p.department,
                ssn: p.ssn,
                password_hash: `$2b$12$${'x'.repeat(53)}`,
              },
        ),
      );
    return send(404, { detail: 'Not found.' });
  });
}

describe("API3 on one's own records and schema drift", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startPayroll, {
      identities: PEOPLE.map((p) => ({
        name: p.username,
        login: {
          path: '/api/auth/login',
          body: { username: p.username, password: p.password },
          scheme: 'Token',
        },
      })),
      checks: ['API3'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the directory shows others' social security numbers and an undeclared password hash", () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(found.includes('scan/api3-sensitive-data-exposure employees'), found.join('\n'));
    const extra = runs.vulnerable.findings.find(
      (f) => f.rule.id === 'scan/api3-undeclared-response-fields' && f.operation?.operationId === 'employees',
    );
    assert.ok(extra, found.join('\n'));
    assert.match(extra.message, /\/\*\/password_hash/);
  });

  test("one's own tax id, SSN and card number at GET /api/me: no finding", () => {
    for (const r of [runs.vulnerable, runs.fixed])
      assert.ok(
        !r.findings.some((f) => f.operation?.operationId === 'taxFile'),
        operationsFound(r).join('\n'),
      );
  });

  test('harmless undeclared fields of the login and the account are a note, not a finding', () => {
    for (const r of [runs.vulnerable, runs.fixed]) {
      assert.ok(
        !r.findings.some((f) => ['login', 'account'].includes(f.operation?.operationId ?? '')),
        operationsFound(r).join('\n'),
      );
    }
    const notes = JSON.stringify(runs.fixed.coverage ?? runs.fixed);
    assert.match(notes, /none sensitive \(not reported\): \/created_at, \/theme, \/last_login/);
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
