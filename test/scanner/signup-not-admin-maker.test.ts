import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A lab API whose document lists `POST /admin/create_admin {username, password}` (open to anyone: the flaw API5
 * reports) before its public sign-up `POST /accounts/signup {username, password}`. The scan's own accounts
 * (API1's, API2's, API6's...) must be ordinary users: made through the sign-up, never through the creation of
 * admins, whatever the document's order. Bearer tokens from `POST /accounts/login`; `GET /accounts/me` shows
 * `{username, is_admin}`.
 */
const body = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['username', 'password'],
        properties: { username: { type: 'string' }, password: { type: 'string' } },
      },
    },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'lab', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/admin/create_admin': {
      post: {
        operationId: 'createAdmin',
        security: [],
        requestBody: body,
        responses: { '201': { description: 'ok' } },
      },
    },
    '/accounts/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: body,
        responses: { '201': { description: 'ok' } },
      },
    },
    '/accounts/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: body,
        responses: { '200': { description: 'token' } },
      },
    },
    '/accounts/me': { get: { operationId: 'me', responses: { '200': { description: 'me' } } } },
    '/accounts/me/password': {
      put: {
        operationId: 'changePassword',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { new_password: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'changed' } },
      },
    },
  },
};

interface Person {
  username: string;
  password: string;
  is_admin: boolean;
}

describe('the scan never makes its own accounts through a creation of admins', () => {
  const people: Person[] = [
    { username: 'alice', password: 'alice-lab-1', is_admin: false },
    { username: 'bob', password: 'bob-lab-2', is_admin: false },
  ];
  const signedIn = new Set<string>();
  let result: ScanResult;

  before(async () => {
    const tokens = new Map<string, Person>();
    const api = await startServer(async (req, res) => {
      const text = await readText(req);
      const send = (status: number, payload: unknown) => sendJson(res, status, payload);
      let b: Record<string, unknown> = {};
      try {
        b = text ? JSON.parse(text) : {};
      } catch {
        return send(400, { error: 'json' });
      }
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && (path === '/admin/create_admin' || path === '/accounts/signup')) {
        if (typeof b.username !== 'string' || typeof b.password !== 'string')
          return send(400, { error: 'fields' });
        if (people.some((p) => p.username === b.username)) return send(409, { error: 'taken' });
        people.push({ username: b.username, password: b.password, is_admin: path === '/admin/create_admin' });
        return send(201, { username: b.username });
      }
      if (req.method === 'POST' && path === '/accounts/login') {
        const p = people.find((x) => x.username === b.username && x.password === b.password);
        if (!p) return send(401, { error: 'credentials' });
        const token = randomBytes(16).toString('hex');
        tokens.set(token, p);
        signedIn.add(p.username);
        return send(200, { token });
      }
      const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!who) return send(401, { error: 'token' });
      if (req.method === 'GET' && path === '/accounts/me')
        return send(200, { username: who.username, is_admin: who.is_admin });
      if (req.method === 'PUT' && path === '/accounts/me/password') {
        if (typeof b.new_password === 'string') who.password = b.new_password;
        return send(200, { changed: true });
      }
      return send(404, { error: 'not found' });
    });
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: people.slice(0, 2).map((p) => ({
          name: p.username,
          login: { path: '/accounts/login', body: { username: p.username, password: p.password } },
        })),
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  test('the scan signed in to accounts of its own, and none of them is an admin', () => {
    const own = people.filter((p) => signedIn.has(p.username) && !['alice', 'bob'].includes(p.username));
    assert.ok(own.length > 0, result.notes.join('\n'));
    assert.deepEqual(
      own.filter((p) => p.is_admin).map((p) => p.username),
      [],
    );
  });
});
