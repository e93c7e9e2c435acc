import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A Flask-style pharmacy API: `POST /login {username, password}` answers `{"token": ...}`, `GET /profile` and
 * `GET /prescriptions` need `Authorization: Bearer <token>`. alice and bob were given the same password. The
 * `open` variants also document a sign-up (`POST /register {username, email, password}`).
 *
 * Vulnerable: the token is three dot-separated base64 segments: the user name, the MD5 of the password, and the
 * key the API checks tokens with (the same in every token). Fixed twin: a random opaque token kept on the server.
 */
const KEY = 's3cr3t-pharmacy-signing-key-2024-xK9q-prod';
const SHARED_PASSWORD = 'Same-pass-2024!';
const str = { type: 'string' } as const;
const json = (properties: Record<string, object>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const ok = { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } };

function spec(open: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'pharmacy', version: '0.9.0' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/login': {
        post: {
          operationId: 'login',
          security: [],
          requestBody: json({ username: str, password: str }, ['username', 'password']),
          responses: ok,
        },
      },
      ...(open
        ? {
            '/register': {
              post: {
                operationId: 'register',
                security: [],
                requestBody: json(
                  { username: str, email: { type: 'string', format: 'email' }, password: str },
                  ['username', 'email', 'password'],
                ),
                responses: { '201': ok['200'] },
              },
            },
          }
        : {}),
      '/profile': { get: { operationId: 'profile', responses: ok } },
      '/prescriptions': { get: { operationId: 'prescriptions', responses: ok } },
    },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

async function startPharmacy(fixed: boolean, open: boolean) {
  const users = new Map<string, { password: string; email: string }>([
    ['alice', { password: SHARED_PASSWORD, email: 'alice@pharmacy.example' }],
    ['bob', { password: SHARED_PASSWORD, email: 'bob@pharmacy.example' }],
  ]);
  const opaque = new Map<string, string>();
  const server = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      return send(400, { error: 'bad json' });
    }
    if (body === null || typeof body !== 'object') body = {};
    const path = (req.url ?? '/').split('?')[0];
    const caller = (): string | undefined => {
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (fixed) return opaque.get(token);
      const [u, h, k] = token.split('.').map((s) => Buffer.from(s, 'base64').toString('utf8'));
      const user = users.get(u);
      return user && h === md5(user.password) && k === KEY ? u : undefined;
    };
    if (req.method === 'POST' && path === '/login') {
      const user = users.get(String(body.username));
      if (!user || user.password !== body.password) return send(401, { error: 'invalid credentials' });
      const name = String(body.username);
      if (fixed) {
        const token = randomBytes(24).toString('hex');
        opaque.set(token, name);
        return send(200, { token });
      }
      return send(200, { token: [b64(name), b64(md5(user.password)), b64(KEY)].join('.') });
    }
    if (req.method === 'POST' && path === '/register' && open) {
      const { username, email, password } = body;
      if (typeof username !== 'string' || typeof password !== 'string' || typeof email !== 'string')
        return send(400, { error: 'username, email and password required' });
      if (users.has(username)) return send(409, { error: 'taken' });
      users.set(username, { password, email });
      return send(201, { message: 'registered' });
    }
    if (req.method === 'GET' && path === '/profile') {
      const who = caller();
      return who
        ? send(200, { username: who, email: users.get(who)?.email })
        : send(401, { error: 'login first' });
    }
    if (req.method === 'GET' && path === '/prescriptions') {
      const who = caller();
      return who
        ? send(200, [{ id: 1, drug: 'ibuprofen', owner: who }])
        : send(401, { error: 'login first' });
    }
    return send(404, { error: 'not found' });
  });
  return server;
}

describe('tokens of two identities with one password: the hash and the key, each named right', () => {
  const runs: Record<string, ScanResult> = {};
  before(async () => {
    const identity = (name: string) => ({
      name,
      login: { path: '/login', body: { username: name, password: SHARED_PASSWORD } },
    });
    for (const [kind, fixed, open] of [
      ['closed', false, false],
      ['open', false, true],
      ['fixed', true, true],
    ] as const) {
      const api = await startPharmacy(fixed, open);
      try {
        runs[kind] = await scanDocument(spec(open), api.url, {
          identities: [identity('alice'), identity('bob')],
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  const inToken = (r: ScanResult, kind: string) =>
    r.findings.filter((f) => f.rule.id === 'scan/api2-secret-in-token' && f.evidence?.kind === kind);

  for (const kind of ['closed', 'open']) {
    test(`${kind}: the key at segment 3 is the API's key, and the MD5 at segment 2 is the password's hash`, () => {
      const keys = inToken(runs[kind], 'signing-secret');
      assert.deepEqual(
        keys.map((f) => f.evidence?.where),
        ['segment 3, base64'],
        keys.map((f) => f.message).join('\n'),
      );
      assert.equal(keys[0].evidence?.length, KEY.length);
      assert.match(keys[0].message, /reads the API's key/);
      const hashes = inToken(runs[kind], 'password-hash');
      assert.equal(hashes.length, 1);
      // Named from a known password's digest, or from the scan's own accounts (one password twice, another once).
      assert.match(
        hashes[0].message,
        /MD5 of the account's password \((alice|bob)\) at segment 2|32-digit hex value at segment 2.* same password/,
      );
      // Nothing names segment 2 a key, and the key itself is never shown.
      for (const f of runs[kind].findings) assert.ok(!JSON.stringify(f).includes(KEY), f.message);
    });
  }

  test('open: the key is the same for accounts the scan registered with other passwords', () => {
    const [key] = inToken(runs.open, 'signing-secret');
    assert.equal(key.evidence?.differentPasswords, true);
    assert.ok(Number(key.evidence?.accounts) >= 3);
  });

  test('fixed twin: opaque tokens carry nothing', () => {
    assert.deepEqual(
      runs.fixed.findings.filter((f) => f.rule.id === 'scan/api2-secret-in-token').map((f) => f.message),
      [],
    );
  });
});
