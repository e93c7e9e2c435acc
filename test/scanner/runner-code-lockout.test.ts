import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { findingOn, scanDocument, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A clinic's patient API in Laravel's style (`{message, errors}`, `Authorization: Bearer <id>|<token>` from `POST
 * /api/login`). A patient confirms a new phone number with the code texted to it (`POST /api/me/phone/verify
 * {code}`); three wrong codes lock the account: every request of a locked patient is answered 423. The document says
 * so (a 423 answer).
 *
 * Vulnerable twin: any patient reads any note. Fixed twin: its patient only. Review R1-13: discovery, API3's probe and
 * the injection probes each sent a made-up code as alice ("a verify only asks"), and a plain scan locked her out; the
 * report said nothing of it. A second API locks an account at its first failed login: the report must say when a
 * given identity's account starts answering 423.
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const noteParam = { name: 'note', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clinic', version: '11' },
  components: { securitySchemes: { sanctum: { type: 'http', scheme: 'bearer' } } },
  security: [{ sanctum: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }, ['email', 'password']),
        responses: { '200': { description: 'token' }, '423': { description: 'locked' } },
      },
    },
    '/api/me': {
      get: { operationId: 'me', responses: { '200': { description: 'the patient' } } },
      patch: {
        operationId: 'updateMe',
        requestBody: json({ name: { type: 'string' }, phone: { type: 'string' } }, []),
        responses: { '200': { description: 'updated' } },
      },
    },
    '/api/me/phone/verify': {
      post: {
        operationId: 'verifyPhone',
        summary: 'Confirm the phone number with the code texted to it',
        requestBody: json({ code: { type: 'string', example: '000000' } }, ['code']),
        responses: {
          '200': { description: 'confirmed' },
          '422': { description: 'wrong code' },
          '423': { description: 'Too many wrong codes; the account is locked' },
        },
      },
    },
    '/api/notes': {
      get: { operationId: 'notes', responses: { '200': { description: "the patient's notes" } } },
      post: {
        operationId: 'addNote',
        requestBody: json({ title: { type: 'string' }, body: { type: 'string' } }, ['title', 'body']),
        responses: { '201': { description: 'note' } },
      },
    },
    '/api/notes/{note}': {
      get: { operationId: 'getNote', parameters: [noteParam], responses: { '200': { description: 'note' } } },
      delete: {
        operationId: 'deleteNote',
        parameters: [noteParam],
        responses: { '204': { description: 'gone' } },
      },
    },
  },
};

const PATIENTS = [
  { id: 1, email: 'ana@clinic.test', password: 'Ana-clinic-5521', name: 'Ana Sousa', phone: '+351912000001' },
  {
    id: 2,
    email: 'ben@clinic.test',
    password: 'Ben-clinic-7730',
    name: 'Ben Okafor',
    phone: '+351912000002',
  },
];

interface Clinic extends TwinTarget {
  /** Wrong codes each patient sent, and who is locked. */
  readonly wrongCodes: Map<string, number>;
  readonly locked: Set<string>;
}

function startClinic(fixed: boolean, lockAtFailedLogin = false): Promise<Clinic> {
  const patients = PATIENTS.map((p) => ({ ...p }));
  const tokens = new Map<string, string>();
  const wrongCodes = new Map<string, number>();
  const locked = new Set<string>();
  const notes = new Map<number, { id: number; patient: string; title: string; body: string }>();
  let next = 1;
  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' || req.method === 'PATCH' ? ((await readJson(req)) ?? {}) : {};
    if (req.method !== 'POST' && req.method !== 'PATCH') req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'POST' && path === '/api/login') {
      const p = patients.find((x) => x.email === body.email);
      if (p && locked.has(p.email)) return reply(res, 423, { message: 'The account is locked.' });
      if (!p || p.password !== body.password) {
        if (p && lockAtFailedLogin) locked.add(p.email);
        return reply(res, 401, { message: 'These credentials do not match our records.' });
      }
      const token = `${p.id}|${randomBytes(20).toString('hex')}`;
      tokens.set(token, p.email);
      return reply(res, 200, { token });
    }
    const email = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const me = patients.find((p) => p.email === email);
    if (!me) return reply(res, 401, { message: 'Unauthenticated.' });
    if (locked.has(me.email))
      return reply(res, 423, { message: 'Too many wrong codes; the account is locked.' });
    if (path === '/api/me' && req.method === 'GET')
      return reply(res, 200, { id: me.id, name: me.name, email: me.email, phone: me.phone });
    if (path === '/api/me' && req.method === 'PATCH') {
      if (typeof body.name === 'string') me.name = body.name;
      if (typeof body.phone === 'string') me.phone = body.phone;
      return reply(res, 200, { id: me.id, name: me.name, email: me.email, phone: me.phone });
    }
    if (path === '/api/me/phone/verify' && req.method === 'POST') {
      const n = (wrongCodes.get(me.email) ?? 0) + 1;
      wrongCodes.set(me.email, n);
      if (n >= 3) locked.add(me.email);
      return reply(res, 422, { message: 'The code is invalid.', errors: { code: ['The code is invalid.'] } });
    }
    if (path === '/api/notes' && req.method === 'GET')
      return reply(res, 200, { data: [...notes.values()].filter((n) => n.patient === me.email) });
    if (path === '/api/notes' && req.method === 'POST') {
      if (typeof body.title !== 'string' || typeof body.body !== 'string')
        return reply(res, 422, { message: 'The title field is required.', errors: { title: ['required'] } });
      const n = { id: next++, patient: me.email, title: body.title, body: body.body };
      notes.set(n.id, n);
      return reply(res, 201, { data: n });
    }
    const m = /^\/api\/notes\/(\d+)$/.exec(path);
    const n = m ? notes.get(Number(m[1])) : undefined;
    if (!n || ((fixed || req.method !== 'GET') && n.patient !== me.email))
      return reply(res, 404, { message: 'Not found.' });
    if (req.method === 'GET') return reply(res, 200, { data: n });
    notes.delete(n.id);
    res.writeHead(204);
    res.end();
  };
  return startServer((req, res) => void handle(req, res).catch(() => res.destroy())).then((s) => ({
    url: s.url,
    server: s.server,
    wrongCodes,
    locked,
  }));
}

const identities = PATIENTS.map((p) => ({
  name: p.email.split('@')[0]!,
  login: { path: '/api/login', body: { email: p.email, password: p.password } },
}));

describe('a one-time code is never submitted as a given identity', { timeout: 300_000 }, () => {
  let runs: TwinScans<Clinic>;
  before(async () => {
    runs = await scanTwins(SPEC, (fixed) => startClinic(fixed), { identities });
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: no wrong code from ana or ben, neither locked, and the coverage says why`, () => {
      const { api, result } = runs[kind];
      assert.deepEqual([...api.wrongCodes.entries()], []);
      assert.deepEqual([...api.locked], []);
      assert.equal(
        result.warnings.some((w) => /looks locked/.test(w)),
        false,
      );
      const notes = result.coverage.matrix
        .filter((c) => c.operation === 'POST /api/me/phone/verify')
        .flatMap((c) => [c.reason ?? '', ...(c.notes ?? [])]);
      assert.ok(
        notes.some((n) => /not sent as (ana|ben): it submits a one-time code/.test(n)),
        notes.join('\n'),
      );
    });
  }

  test('the vulnerable twin is still reported, the fixed one not', () => {
    assert.ok(findingOn(runs.vulnerable.result, 'scan/api1-bola-read', 'getNote'));
    assert.equal(findingOn(runs.fixed.result, 'scan/api1-bola-read', 'getNote'), undefined);
  });
});

describe('a given identity whose account starts answering 423 is named in the warnings', {
  timeout: 300_000,
}, () => {
  let result: ScanResult;
  let locked: Set<string>;
  before(async () => {
    const api = await startClinic(true, true);
    try {
      result = await scanDocument(SPEC, api.url, { identities, checks: ['API2', 'API4'] });
      locked = api.locked;
    } finally {
      api.server.close();
    }
  });

  test('the account locked by its one failed login is said, with the time', () => {
    assert.ok(locked.size > 0, 'the case is exercised: a failed login of a given identity locked it');
    const who = [...locked].map((e) => e.split('@')[0]);
    assert.ok(
      result.warnings.some((w) =>
        new RegExp(`^(${who.join('|')})'s account looks locked from \\d\\d:\\d\\d:\\d\\d UTC`).test(w),
      ),
      result.warnings.join('\n'),
    );
  });
});
