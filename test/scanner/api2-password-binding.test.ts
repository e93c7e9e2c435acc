import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A book-swap club in a Hapi style (`{"statusCode", "error", "message"}` errors): members sign in at
 * `POST /session {handle, password}` (`{session: {id}}`, an opaque id sent back as `Authorization: Session <id>`),
 * read their own record at `GET /me`, and (in the `open` variant) join at `POST /members {handle, email,
 * password}`.
 *
 * Vulnerable: the sign-in checks that the handle exists and that the password is one some member has, not that
 * member's own: any member's password opens every account. Fixed twin: the handle's own password. Both answer 429
 * after five failed sign-ins for one handle and refuse passwords under ten characters.
 */
const answer = {
  '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
};
const str = { type: 'string' };
const body = (properties: Record<string, object>) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', properties, required: Object.keys(properties) } },
  },
});
function spec(open: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'book swap', version: '1.1.0' },
    components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
    security: [{ session: [] }],
    paths: {
      '/session': {
        post: {
          operationId: 'signIn',
          security: [],
          requestBody: body({ handle: str, password: str }),
          responses: answer,
        },
      },
      ...(open
        ? {
            '/members': {
              post: {
                operationId: 'join',
                security: [],
                requestBody: body({ handle: str, email: { type: 'string', format: 'email' }, password: str }),
                responses: { '201': answer['200'] },
              },
            },
          }
        : {}),
      '/me': { get: { operationId: 'me', responses: answer } },
    },
  };
}

async function startSwap(fixed: boolean, open: boolean) {
  const members = [
    { id: 1, handle: 'noor', email: 'noor@swap.example', password: 'Noor-reads-5501' },
    { id: 2, handle: 'ruud', email: 'ruud@swap.example', password: 'Ruud-reads-6627' },
  ];
  const sessions = new Map<string, (typeof members)[number]>();
  const failures = new Map<string, number>();
  let nextId = 20;
  const error = (res: Parameters<typeof sendJson>[0], statusCode: number, message: string) =>
    sendJson(res, statusCode, {
      statusCode,
      error: statusCode === 401 ? 'Unauthorized' : 'Bad Request',
      message,
    });
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/members' && open) {
      const b = (await readJson(req)) ?? {};
      if (typeof b.handle !== 'string' || typeof b.email !== 'string' || typeof b.password !== 'string')
        return error(res, 400, 'handle, email and password are required');
      if (b.password.length < 10) return error(res, 400, 'password too short');
      if (members.some((m) => m.handle === b.handle || m.email === b.email))
        return error(res, 400, 'cannot join');
      const m = { id: nextId++, handle: b.handle, email: b.email, password: b.password };
      members.push(m);
      return sendJson(res, 201, { id: m.id, handle: m.handle });
    }
    if (req.method === 'POST' && path === '/session') {
      const b = (await readJson(req)) ?? {};
      const key = String(b.handle);
      if ((failures.get(key) ?? 0) >= 5) return error(res, 429, 'Too many attempts');
      const m = members.find((x) => x.handle === b.handle);
      const ok = m && (fixed ? m.password === b.password : members.some((x) => x.password === b.password));
      if (!m || !ok) {
        failures.set(key, (failures.get(key) ?? 0) + 1);
        return error(res, 401, 'Invalid handle or password');
      }
      const id = randomBytes(16).toString('hex');
      sessions.set(id, m);
      return sendJson(res, 200, { session: { id } });
    }
    if (req.method === 'GET' && path === '/me') {
      const m = sessions.get(String(req.headers.authorization ?? '').replace(/^Session /, ''));
      if (!m) return error(res, 401, 'Missing session');
      return sendJson(res, 200, { id: m.id, handle: m.handle, email: m.email });
    }
    return error(res, 404, 'Not Found');
  });
}

describe('a login that takes any member password for any handle', () => {
  const runs = {} as Record<string, ScanResult>;
  before(async () => {
    const identity = (handle: string, password: string) => ({
      name: handle,
      login: { path: '/session', body: { handle, password }, tokenPointer: '/session/id', scheme: 'Session' },
    });
    for (const open of [true, false])
      for (const fixed of [false, true]) {
        const api = await startSwap(fixed, open);
        try {
          runs[`${open ? 'open' : 'closed'} ${fixed ? 'fixed' : 'vulnerable'}`] = await scanDocument(
            spec(open),
            api.url,
            {
              identities: [identity('noor', 'Noor-reads-5501'), identity('ruud', 'Ruud-reads-6627')],
              checks: ['API2'],
              ratePerSecond: 300,
            },
          );
        } finally {
          await api.close();
        }
      }
  });

  const accepted = (r: ScanResult) =>
    r.findings.filter((f) => f.rule.id === 'scan/api2-wrong-password-accepted');

  test("with a sign-up: the scan's own account signs in with a given identity's password", () => {
    const found = accepted(runs['open vulnerable']);
    assert.equal(found.length, 1, operationsFound(runs['open vulnerable']).join('\n'));
    assert.equal(found[0].operation?.operationId, 'signIn');
    assert.match(found[0].message, /signed pc\w+ \(an account the scan registered\) in with noor's password/);
    assert.doesNotMatch(JSON.stringify(found), /Noor-reads-5501/);
  });

  test("without one: noor's one failed login of the scan is sent with ruud's password", () => {
    const found = accepted(runs['closed vulnerable']);
    assert.equal(found.length, 1, operationsFound(runs['closed vulnerable']).join('\n'));
    assert.match(found[0].message, /signed noor in with ruud's password/);
    assert.doesNotMatch(JSON.stringify(found), /Ruud-reads-6627/);
  });

  test('the fixed twins: no finding at all', () => {
    assert.deepEqual(operationsFound(runs['open fixed']), []);
    assert.deepEqual(operationsFound(runs['closed fixed']), []);
  });
});
