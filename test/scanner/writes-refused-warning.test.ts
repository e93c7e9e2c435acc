import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * An Express-style notes API with a cookie session and a double-submit anti-forgery token (csurf-like): `POST
 * /auth/login` sets `connect.sid` and an `XSRF-TOKEN` cookie, and every write must echo that token in `X-XSRF-TOKEN`
 * (else 403 `{"error": "invalid csrf token"}`); the document declares the header as an apiKey scheme beside the
 * cookie. Identities that log in through the API carry no such header, so every write of the scan is refused: the
 * report must say so loudly, and name the header. Identities given with the header write, and get no such warning.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'notes', version: '1' },
  components: {
    securitySchemes: {
      session: { type: 'apiKey', in: 'cookie', name: 'connect.sid' },
      csrf: { type: 'apiKey', in: 'header', name: 'X-XSRF-TOKEN' },
    },
  },
  security: [{ session: [], csrf: [] }],
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
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'signed in' } },
      },
    },
    '/api/notes': {
      get: { operationId: 'listNotes', responses: { '200': { description: 'notes' } } },
      post: {
        operationId: 'createNote',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['text'],
                properties: { text: { type: 'string', maxLength: 200 } },
              },
            },
          },
        },
        responses: { '201': { description: 'a note' } },
      },
    },
    '/api/notes/{noteId}': {
      get: {
        operationId: 'getNote',
        parameters: [{ name: 'noteId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a note' } },
      },
      put: {
        operationId: 'updateNote',
        parameters: [{ name: 'noteId', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', properties: { text: { type: 'string' } } } },
          },
        },
        responses: { '200': { description: 'updated' } },
      },
      delete: {
        operationId: 'deleteNote',
        parameters: [{ name: 'noteId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '204': { description: 'deleted' } },
      },
    },
  },
};

const USERS: Record<string, string> = {
  'nina@notes.test': 'Nina-notes-4410',
  'omid@notes.test': 'Omid-notes-8821',
};

function startNotes() {
  const sessions = new Map<string, { email: string; csrf: string }>([
    ['s-nina-fixed', { email: 'nina@notes.test', csrf: 'x-nina-fixed' }],
    ['s-omid-fixed', { email: 'omid@notes.test', csrf: 'x-omid-fixed' }],
  ]);
  const notes = [
    { id: 1, owner: 'nina@notes.test', text: 'buy clay' },
    { id: 2, owner: 'omid@notes.test', text: 'call the kiln shop' },
  ];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body?: unknown, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const path = new URL(req.url ?? '/', 'http://notes').pathname;
    if (req.method === 'POST' && path === '/auth/login') {
      let b: { email?: string; password?: string } = {};
      try {
        b = JSON.parse(text);
      } catch {
        return send(400, { error: 'bad json' });
      }
      if (!b.email || USERS[b.email] !== b.password) return send(401, { error: 'invalid credentials' });
      const sid = randomBytes(12).toString('hex');
      const csrf = randomBytes(12).toString('hex');
      sessions.set(sid, { email: b.email, csrf });
      return send(
        200,
        { ok: true },
        { 'set-cookie': [`connect.sid=${sid}; Path=/; HttpOnly`, `XSRF-TOKEN=${csrf}; Path=/`] },
      );
    }
    const sid = /(?:^|;\s*)connect\.sid=([\w-]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const session = sid ? sessions.get(sid) : undefined;
    if (!session) return send(401, { error: 'not signed in' });
    if (req.method !== 'GET' && req.headers['x-xsrf-token'] !== session.csrf)
      return send(403, { error: 'invalid csrf token' });
    const mine = notes.filter((n) => n.owner === session.email);
    if (path === '/api/notes') {
      if (req.method === 'GET') return send(200, mine);
      let b: { text?: unknown } = {};
      try {
        b = JSON.parse(text);
      } catch {
        return send(400, { error: 'bad json' });
      }
      if (typeof b.text !== 'string') return send(400, { error: 'text is required' });
      const n = { id: notes.length + 1, owner: session.email, text: b.text };
      notes.push(n);
      return send(201, n);
    }
    const m = /^\/api\/notes\/(\d+)$/.exec(path);
    const n = m ? mine.find((x) => x.id === Number(m[1])) : undefined;
    if (!n) return send(404, { error: 'not found' });
    if (req.method === 'GET') return send(200, n);
    if (req.method === 'PUT') return send(200, n);
    if (req.method === 'DELETE') {
      notes.splice(notes.indexOf(n), 1);
      return send(204);
    }
    return send(405, { error: 'method not allowed' });
  });
}

const warning = (r: ScanResult) => r.warnings.find((w) => w.startsWith('EVERY WRITE WAS REFUSED'));

describe('a scan whose every write is refused alike says so, and names the declared anti-forgery header', () => {
  const runs = {} as Record<'login' | 'headers', ScanResult>;
  before(async () => {
    for (const kind of ['login', 'headers'] as const) {
      const api = await startNotes();
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities:
            kind === 'login'
              ? Object.entries(USERS).map(([email, password]) => ({
                  name: email.split('@')[0],
                  login: { path: '/auth/login', body: { email, password } },
                }))
              : [
                  {
                    name: 'nina',
                    headers: { Cookie: 'connect.sid=s-nina-fixed', 'X-XSRF-TOKEN': 'x-nina-fixed' },
                  },
                  {
                    name: 'omid',
                    headers: { Cookie: 'connect.sid=s-omid-fixed', 'X-XSRF-TOKEN': 'x-omid-fixed' },
                  },
                ],
          checks: ['API1', 'API3'],
          ratePerSecond: 200,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('identities that log in: every write answered 403, the warning names X-XSRF-TOKEN', () => {
    const line = warning(runs.login);
    assert.ok(line, runs.login.warnings.join('\n'));
    assert.match(line, /all answered 403 .*X-XSRF-TOKEN/);
  });

  test('identities given with the header: their writes go through, no such warning', () => {
    assert.equal(warning(runs.headers), undefined, runs.headers.warnings.join('\n'));
  });
});
