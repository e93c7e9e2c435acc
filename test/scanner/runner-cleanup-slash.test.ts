import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { findingOn, headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A field-notes API in Django REST framework's style: every route ends with `/`, and a path without it is answered
 * `301` to the same path with the slash (APPEND_SLASH), whatever the method. `Authorization: Token <key>`. Members
 * keep notes (`/api/v1/notes/`, `/api/v1/notes/{id}/`) and may open accounts for others (`POST /api/v1/users/
 * {username, password}` answers the new account with its own token); an account is deleted only by itself
 * (`DELETE /api/v1/users/{id}/` with its own token).
 *
 * Vulnerable twin: any member reads any note. Fixed twin: its writer only. Review R2-S2: the end-of-scan clean-up
 * sent `DELETE /api/v1/notes/5` (no slash), was answered 301 and left every setup object; M's set A: an account a
 * given identity created was asked to be deleted as its maker, 404, and left, though its own token was in the answer.
 */
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'field notes', version: '1.0.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/v1/notes/': {
      get: { operationId: 'notes_list', responses: { '200': { description: "the member's notes" } } },
      post: {
        operationId: 'notes_create',
        requestBody: json({ title: { type: 'string' }, body: { type: 'string' } }, ['title', 'body']),
        responses: { '201': { description: 'note' } },
      },
    },
    '/api/v1/notes/{id}/': {
      get: {
        operationId: 'notes_read',
        parameters: [idParam],
        responses: { '200': { description: 'note' } },
      },
      delete: {
        operationId: 'notes_delete',
        parameters: [idParam],
        responses: { '204': { description: 'gone' } },
      },
    },
    '/api/v1/users/': {
      post: {
        operationId: 'users_create',
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }, [
          'username',
          'password',
        ]),
        responses: { '201': { description: 'the account and its token' } },
      },
    },
    '/api/v1/users/{id}/': {
      delete: {
        operationId: 'users_delete',
        description: 'An account deletes itself.',
        parameters: [idParam],
        responses: { '204': { description: 'gone' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { rui: 'fn-rui-7a01c9e2b3', sara: 'fn-sara-44d0e1f7a8' };

interface Notes extends TwinTarget {
  readonly notes: Map<number, { id: number; writer: string; title: string; body: string }>;
  readonly accounts: Map<number, { id: number; username: string; token: string }>;
}

function startNotes(fixed: boolean): Promise<Notes> {
  const notes = new Map<number, { id: number; writer: string; title: string; body: string }>([
    [1, { id: 1, writer: 'rui', title: 'Oak by the river', body: 'seen in May' }],
  ]);
  const accounts = new Map<number, { id: number; username: string; token: string }>();
  let nextNote = 2;
  let nextAccount = 10;
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', vary: 'Accept' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.endsWith('/')) {
      req.resume();
      res.writeHead(301, { location: `${url.pathname}/${url.search}` });
      return res.end();
    }
    if (req.method !== 'POST') req.resume();
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const auth = String(req.headers.authorization ?? '');
    const member = Object.keys(KEYS).find((m) => auth === `Token ${KEYS[m]}`);
    const account = [...accounts.values()].find((a) => auth === `Token ${a.token}`);
    if (!member && !account)
      return send(res, 401, { detail: 'Authentication credentials were not provided.' });
    const who = member ?? account!.username;
    const path = url.pathname;
    if (path === '/api/v1/notes/' && req.method === 'GET')
      return send(
        res,
        200,
        [...notes.values()].filter((n) => n.writer === who),
      );
    if (path === '/api/v1/notes/' && req.method === 'POST') {
      if (typeof body?.title !== 'string' || typeof body?.body !== 'string')
        return send(res, 400, { title: ['This field is required.'] });
      const n = { id: nextNote++, writer: who, title: body.title, body: body.body };
      notes.set(n.id, n);
      return send(res, 201, n);
    }
    if (path === '/api/v1/users/' && req.method === 'POST') {
      if (typeof body?.username !== 'string' || typeof body?.password !== 'string')
        return send(res, 400, { username: ['This field is required.'] });
      const a = { id: nextAccount++, username: body.username, token: randomBytes(20).toString('hex') };
      accounts.set(a.id, a);
      return send(res, 201, { id: a.id, username: a.username, token: a.token });
    }
    const u = /^\/api\/v1\/users\/(\d+)\/$/.exec(path);
    if (u && req.method === 'DELETE') {
      const a = accounts.get(Number(u[1]));
      if (!a || account !== a) return send(res, 404, { detail: 'Not found.' });
      accounts.delete(a.id);
      res.writeHead(204);
      return res.end();
    }
    const m = /^\/api\/v1\/notes\/(\d+)\/$/.exec(path);
    const n = m ? notes.get(Number(m[1])) : undefined;
    if (!n || ((fixed || req.method !== 'GET') && n.writer !== who))
      return send(res, 404, { detail: 'Not found.' });
    if (req.method === 'GET') return send(res, 200, n);
    if (req.method === 'DELETE') {
      notes.delete(n.id);
      res.writeHead(204);
      return res.end();
    }
    send(res, 405, { detail: `Method "${req.method}" not allowed.` });
  };
  return startServer((req, res) => void handle(req, res).catch(() => res.destroy())).then((s) => ({
    url: s.url,
    server: s.server,
    notes,
    accounts,
  }));
}

describe('the clean-up deletes at the item route as spelled, and an account as itself', {
  timeout: 300_000,
}, () => {
  let runs: TwinScans<Notes>;
  before(async () => {
    runs = await scanTwins(SPEC, startNotes, {
      identities: headerIdentities('Authorization', KEYS, 'Token'),
      checks: ['API1'],
    });
  });

  test('vulnerable twin: the open note read is found; fixed twin: no API1 finding', () => {
    assert.ok(findingOn(runs.vulnerable.result, 'scan/api1-bola-read', 'notes_read'));
    assert.deepEqual(
      runs.fixed.result.findings.filter((f) => f.rule.id.startsWith('scan/api1-')).map((f) => f.rule.id),
      [],
    );
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: only the seeded note is left, and no account the scan made`, () => {
      const { api, result } = runs[kind];
      assert.deepEqual([...api.notes.keys()], [1], result.notes.join('\n'));
      assert.deepEqual(
        [...api.accounts.values()].map((a) => a.username),
        [],
        result.notes.join('\n'),
      );
    });
  }
});
