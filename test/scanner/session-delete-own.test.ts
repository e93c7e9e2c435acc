import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A Sinatra-style notes API: `POST /session {login, secret}` answers 201 `{"token": ...}`, `DELETE /session` signs
 * the caller out (204), `GET /me` shows the caller, errors are `{"error": "..."}` with 401/422. With a sign-up
 * (`POST /signup`), the scan makes an account of its own and signs it out with `DELETE /session`: the vulnerable
 * twin keeps the token alive after it, the fixed twin ends it. Without a sign-up, the only sessions are the given
 * members' (a second login of theirs included): no DELETE may reach them.
 */
const credentials = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['login', 'secret'],
        properties: { login: { type: 'string' }, secret: { type: 'string', format: 'password' } },
      },
    },
  },
};
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
function spec(withSignup: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'notes', version: '1' },
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
    security: [{ token: [] }],
    paths: {
      '/session': {
        post: {
          operationId: 'signIn',
          security: [],
          requestBody: credentials,
          responses: { '201': ok('a token') },
        },
        delete: { operationId: 'signOut', responses: { '204': { description: 'signed out' } } },
      },
      '/me': { get: { operationId: 'me', responses: { '200': ok('the caller') } } },
      ...(withSignup
        ? {
            '/signup': {
              post: {
                operationId: 'signUp',
                security: [],
                requestBody: credentials,
                responses: { '201': ok('joined') },
              },
            },
          }
        : {}),
    },
  };
}

const MEMBERS = { greta: 'Greta-notes-5512', hugo: 'Hugo-notes-9034' };

function startNotes(fixed: boolean) {
  const accounts = new Map<string, string>(Object.entries(MEMBERS));
  const tokens = new Map<string, string>();
  /** Logins whose token a DELETE /session named, in order. */
  const signedOut: string[] = [];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const path = new URL(req.url ?? '/', 'http://notes').pathname;
    if (req.method === 'POST' && (path === '/session' || path === '/signup')) {
      let body: { login?: unknown; secret?: unknown } = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(422, { error: 'malformed JSON' });
      }
      const login = typeof body.login === 'string' ? body.login : '';
      const secret = typeof body.secret === 'string' ? body.secret : '';
      if (!/^[\w.@-]{3,60}$/.test(login) || secret.length < 10 || secret.length > 100)
        return send(422, { error: 'login and secret are required' });
      if (path === '/signup') {
        if (accounts.has(login)) return send(422, { error: 'login is taken' });
        accounts.set(login, secret);
        return send(201, { login });
      }
      if (accounts.get(login) !== secret) return send(401, { error: 'invalid login' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, login);
      return send(201, { token });
    }
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const login = tokens.get(token);
    if (!login) return send(401, { error: 'sign in first' });
    if (req.method === 'DELETE' && path === '/session') {
      signedOut.push(login);
      if (fixed) tokens.delete(token);
      return send(204);
    }
    if (req.method === 'GET' && path === '/me') return send(200, { login });
    return send(404, { error: 'not found' });
  }).then((api) => Object.assign(api, { signedOut }));
}

const identity = (login: keyof typeof MEMBERS) => ({
  name: login,
  login: { path: '/session', body: { login, secret: MEMBERS[login] } },
});
const sessionNotEnded = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api2-session-not-ended').map((f) => f.operation?.operationId);

describe('a logout by DELETE goes for a session of the scan’s own account, never a given member’s', () => {
  const runs = {} as Record<string, { result: ScanResult; signedOut: string[] }>;
  before(async () => {
    for (const withSignup of [true, false])
      for (const fixed of [false, true]) {
        const api = await startNotes(fixed);
        try {
          const result = await scanDocument(spec(withSignup), api.url, {
            identities: [identity('greta'), identity('hugo')],
            checks: ['API2'],
            ratePerSecond: 200,
          });
          runs[`${withSignup ? 'signup' : 'plain'} ${fixed ? 'fixed' : 'vulnerable'}`] = {
            result,
            signedOut: api.signedOut,
          };
        } finally {
          await api.close();
        }
      }
  });

  test('with a sign-up: the token kept after DELETE /session is found on the vulnerable twin only', () => {
    assert.deepEqual(sessionNotEnded(runs['signup vulnerable'].result), ['signOut']);
    assert.deepEqual(sessionNotEnded(runs['signup fixed'].result), []);
    for (const kind of ['signup vulnerable', 'signup fixed'])
      assert.ok(
        runs[kind].signedOut.length > 0 && runs[kind].signedOut.every((l) => l.startsWith('pc')),
        `${kind}: ${runs[kind].signedOut.join(', ')}`,
      );
  });

  test('without a sign-up: no DELETE /session reaches a session of greta or hugo, and the coverage says why', () => {
    for (const kind of ['plain vulnerable', 'plain fixed']) {
      assert.deepEqual(runs[kind].signedOut, [], kind);
      const cell = runs[kind].result.coverage.matrix.find(
        (c) => c.check === 'API2' && c.operation === 'DELETE /session',
      );
      assert.equal(cell?.status, 'skipped', `${kind}: ${JSON.stringify(cell)}`);
    }
  });
});
