import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A FastAPI-style field-notes service whose callers are given as API keys (`X-Api-Key`, one per user): the scan's
 * identities carry only those headers and log in nowhere. Beside the keys, the service documents a login
 * (`POST /auth/login {username, password}` answering `{"access_token": ...}`) whose token also opens
 * `GET /notes` (the caller's own notes; an anonymous caller gets 401). There is no sign-up.
 *
 * - vulnerable: the login hands a working token to any user name with any password.
 * - fixed: the login checks the password of the accounts it knows and refuses other names.
 * - creating: a name it does not know is registered on first use with the password given; a later login for
 *   that name with another password is refused (no flaw, but an account is made).
 * - keysOnly: the login hands a token to anyone, but `/notes` takes only the API keys: that token opens
 *   nothing the scan can see, and no real login exists to show what a real token would open.
 */
type Kind = 'vulnerable' | 'fixed' | 'creating' | 'keysOnly';

const KEYS: Record<string, string> = { 'fn-key-alice-5521': 'alice', 'fn-key-bob-8804': 'bob' };
const str = { type: 'string' } as const;
const ok = { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } };
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'field notes', version: '2.0.1' },
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      bearer: { type: 'http', scheme: 'bearer' },
    },
  },
  security: [{ apiKey: [] }, { bearer: [] }],
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
                properties: { username: str, password: str },
                required: ['username', 'password'],
              },
            },
          },
        },
        responses: { ...ok, '401': { description: 'refused' } },
      },
    },
    '/notes': { get: { operationId: 'listNotes', responses: ok } },
  },
};

async function startNotes(kind: Kind) {
  const passwords = new Map<string, string>([
    ['alice', 'Alice-field-3391'],
    ['bob', 'Bob-field-7718'],
  ]);
  const notes: Record<string, { id: number; text: string }[]> = {
    alice: [{ id: 1, text: 'alice: heron at the north pond' }],
    bob: [{ id: 2, text: 'bob: otter tracks by the weir' }],
  };
  const tokens = new Map<string, string>();
  /** User names the creating login registered. */
  const created: string[] = [];
  const server = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      return send(422, { detail: 'JSON decode error' });
    }
    if (body === null || typeof body !== 'object') body = {};
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/auth/login') {
      const { username, password } = body;
      if (typeof username !== 'string' || typeof password !== 'string')
        return send(422, { detail: 'username and password are required' });
      const known = passwords.get(username);
      if (kind === 'creating' && known === undefined && passwords.size < 200) {
        passwords.set(username, password);
        created.push(username);
      } else if (kind !== 'vulnerable' && kind !== 'keysOnly' && passwords.get(username) !== password) {
        return send(401, { detail: 'Invalid username or password' });
      }
      const token = randomBytes(16).toString('hex');
      if (tokens.size < 1000) tokens.set(token, username);
      return send(200, { access_token: token, token_type: 'bearer' });
    }
    if (req.method === 'GET' && path === '/notes') {
      const key = req.headers['x-api-key'];
      const bearer = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const who =
        typeof key === 'string' && KEYS[key]
          ? KEYS[key]
          : kind === 'keysOnly'
            ? undefined
            : tokens.get(bearer);
      if (!who) return send(401, { detail: 'Not authenticated' });
      return send(200, { notes: notes[who] ?? [] });
    }
    return send(404, { detail: 'Not Found' });
  });
  return { ...server, created };
}

describe('any credentials accepted, with identities given only as headers', () => {
  const runs = {} as Record<Kind, ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed', 'creating', 'keysOnly'] as const) {
      const api = await startNotes(kind);
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: [
            { name: 'alice', headers: { 'X-Api-Key': 'fn-key-alice-5521' } },
            { name: 'bob', headers: { 'X-Api-Key': 'fn-key-bob-8804' } },
          ],
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  const anyCredentials = (r: ScanResult) =>
    r.findings.filter((f) => f.rule.id === 'scan/api2-any-credentials-accepted');
  const untested = (r: ScanResult) =>
    (r.coverage.checks.find((c) => c.check === 'API2')?.untestedRules ?? [])
      .filter((u) => u.rule === 'scan/api2-any-credentials-accepted')
      .map((u) => u.reason)
      .join(' | ');

  test('a login that takes any name and password is reported, with the reference request as its control', () => {
    const [f, ...more] = anyCredentials(runs.vulnerable);
    assert.ok(f, JSON.stringify(runs.vulnerable.coverage.checks.find((c) => c.check === 'API2')));
    assert.equal(more.length, 0);
    assert.equal(f.operation?.operationId, 'login');
    assert.match(f.message, /GET \/notes/);
    assert.match(f.message, /a second login for that name with another wrong password was let in too/);
    assert.match(f.message, /no real account signs in there, so the control is that request/);
  });

  test('the fixed login and the login that creates the account on first use are not reported', () => {
    assert.deepEqual(anyCredentials(runs.fixed), []);
    assert.deepEqual(anyCredentials(runs.creating), []);
  });

  test('a credential that opens nothing the identities open is not judged, and the report says why', () => {
    assert.deepEqual(anyCredentials(runs.keysOnly), []);
    assert.match(untested(runs.keysOnly), /did not pass GET \/notes .*no real account signs in there/);
  });
});
