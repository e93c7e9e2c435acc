import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A mobile-backend notes API (issue 16, R1 F1): `POST /api/auth/login {email, password}` answers `{token}`,
 * `GET /api/me` and `GET /api/notes` read the caller's account and notes with `Authorization: Bearer`.
 *
 * Creating: an e-mail used for the first time creates the account with that password (a common design, no
 * flaw); a known e-mail needs its password. Its credential for a made-up e-mail reads a new, empty account, and a
 * second password for that e-mail is refused: no any-credentials-accepted, and the account it made is named in
 * the notes. Checking nothing: every e-mail and password get a token for that e-mail, again and again: the flaw.
 */
const str = { type: 'string' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'notes', version: '2.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/login': {
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
                properties: { email: { type: 'string', format: 'email' }, password: str },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'signed in (an e-mail used for the first time creates the account)',
            content: { 'application/json': { schema: { type: 'object', properties: { token: str } } } },
          },
          '401': { description: 'wrong password' },
        },
      },
    },
    '/api/me': { get: { operationId: 'me', responses: { '200': { description: 'the account' } } } },
    '/api/notes': { get: { operationId: 'notes', responses: { '200': { description: 'own notes' } } } },
  },
};

interface Account {
  email: string;
  password: string;
  notes: string[];
}

function startNotes(mode: 'creating' | 'checking-nothing') {
  const accounts = new Map<string, Account>([
    [
      'alice@notes.example',
      { email: 'alice@notes.example', password: 'Alice-6620-nt', notes: ['dentist at 3'] },
    ],
    ['bob@notes.example', { email: 'bob@notes.example', password: 'Bob-1184-nt', notes: ['buy milk'] }],
  ]);
  const tokens = new Map<string, string>();
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown) => sendJson(res, status, payload, GUARDED_JSON);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    } catch {
      return send(400, { error: 'invalid JSON' });
    }
    const path = (req.url ?? '/').split('?')[0];
    const issue = (email: string) => {
      const token = `nt${Math.random().toString(36).slice(2, 14)}`;
      if (tokens.size < 5000) tokens.set(token, email);
      return send(200, { token });
    };
    if (req.method === 'POST' && path === '/api/auth/login') {
      const { email, password } = body;
      if (
        typeof email !== 'string' ||
        !/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(email) ||
        typeof password !== 'string'
      )
        return send(422, { error: 'an e-mail and a password' });
      if (mode === 'checking-nothing') return issue(email);
      const known = accounts.get(email);
      if (!known) {
        if (accounts.size < 1000) accounts.set(email, { email, password, notes: [] });
        return issue(email);
      }
      if (known.password !== password) return send(401, { error: 'wrong password' });
      return issue(email);
    }
    const email = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (email === undefined) return send(401, { error: 'sign in first' });
    const account = accounts.get(email) ?? { email, notes: [] };
    if (req.method === 'GET' && path === '/api/me') return send(200, { email: account.email });
    if (req.method === 'GET' && path === '/api/notes') return send(200, { notes: account.notes });
    return send(404, { error: 'not found' });
  }).then((s) => Object.assign(s, { accounts }));
}

describe('a login that creates the account on first use is no login that lets anyone in', () => {
  const runs = {} as Record<'creating' | 'checking-nothing', ScanResult>;
  const made = {} as Record<'creating' | 'checking-nothing', string[]>;
  before(async () => {
    const login = (email: string, password: string) => ({
      name: email.split('@')[0],
      login: { path: '/api/auth/login', body: { email, password } },
    });
    for (const mode of ['creating', 'checking-nothing'] as const) {
      const api = await startNotes(mode);
      try {
        runs[mode] = await scanDocument(SPEC, api.url, {
          identities: [
            login('alice@notes.example', 'Alice-6620-nt'),
            login('bob@notes.example', 'Bob-1184-nt'),
          ],
          checks: ['API2'],
          ratePerSecond: 300,
        });
        made[mode] = [...api.accounts.keys()].filter((e) => !e.endsWith('@notes.example'));
      } finally {
        await api.close();
      }
    }
  });

  const anyCredentials = (r: ScanResult) =>
    r.findings.filter((f) => f.rule.id === 'scan/api2-any-credentials-accepted');

  test('creating on first use: no any-credentials-accepted (its second password for the made-up e-mail is refused)', () => {
    assert.deepEqual(
      anyCredentials(runs.creating).map((f) => f.message),
      [],
    );
  });

  test('the accounts the creating login made are named in the notes', () => {
    assert.ok(made.creating.length > 0);
    const notes = runs.creating.notes.join('\n');
    for (const email of made.creating) assert.ok(notes.includes(email), `${email} not in:\n${notes}`);
  });

  test('checking nothing: any-credentials-accepted, on a second wrong password for the same made-up e-mail', () => {
    const found = anyCredentials(runs['checking-nothing']);
    assert.equal(found.length, 1, JSON.stringify(runs['checking-nothing'].findings.map((f) => f.rule.id)));
    assert.match(found[0].message, /second login for that name with another wrong password was let in too/);
  });
});
