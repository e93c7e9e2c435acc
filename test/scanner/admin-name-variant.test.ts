import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { runScan, type ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Sinatra-style wiki: `POST /signup {username, password, email}`, `POST /login` → `{"token"}` sent as
 * `Authorization: Token ...`, pages for members, and an audit log for the admin only.
 *
 * Vulnerable: the admin is whoever's user name, lower-cased, is `wikiadmin`; the sign-up keeps names apart
 * by their exact spelling, so anyone registers `Wikiadmin` and reads the audit log. Fixed twin: the admin is
 * the account with the admin role (a sign-up never gets it). Third mode, `overwrite`: the sign-up stores
 * accounts under the lower-cased name without looking (a second sign-up replaces the first, the admin's
 * included): the scan must see it on its own names and never register the admin's variant.
 */
type Mode = 'vulnerable' | 'fixed' | 'overwrite';

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'wiki', version: '0.9' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: {
                  username: { type: 'string' },
                  password: { type: 'string' },
                  email: { type: 'string', format: 'email' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'registered' } },
      },
    },
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/pages': { get: { operationId: 'pages', responses: { '200': { description: 'pages' } } } },
    '/admin/audit-log': {
      get: { operationId: 'auditLog', responses: { '200': { description: 'who changed what' } } },
    },
  },
};

const SEED = [
  { username: 'wikiadmin', password: 'Wiki-Admin-42!', role: 'admin' },
  { username: 'hedda', password: 'hedda-wiki-7', role: 'member' },
  { username: 'ruben', password: 'ruben-wiki-3', role: 'member' },
];
const AUDIT = [
  { at: '2026-11-30T09:12:00Z', who: 'hedda', page: 'Onboarding', action: 'edit' },
  { at: '2026-12-01T16:40:00Z', who: 'ruben', page: 'Payroll', action: 'delete' },
];

async function json(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function startWiki(mode: Mode) {
  const accounts = new Map<string, { username: string; password: string; role: string }>();
  const keyOf = (name: string) => (mode === 'overwrite' ? name.toLowerCase() : name);
  for (const a of SEED) accounts.set(keyOf(a.username), { ...a });
  const tokens = new Map<string, string>();
  const api = startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(payload));
    };
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && url === '/signup') {
      const b = await json(req);
      if (typeof b?.username !== 'string' || typeof b.password !== 'string' || b.username.length < 3)
        return send(422, { error: 'username and password are required' });
      if (mode !== 'overwrite' && accounts.has(keyOf(b.username)))
        return send(409, { error: 'username taken' });
      accounts.set(keyOf(b.username), { username: b.username, password: b.password, role: 'member' });
      return send(201, { username: b.username });
    }
    if (req.method === 'POST' && url === '/login') {
      const b = await json(req);
      const a = typeof b?.username === 'string' ? accounts.get(keyOf(b.username)) : undefined;
      if (!a || a.password !== b?.password) return send(401, { error: 'bad credentials' });
      const token = Math.random().toString(36).slice(2);
      tokens.set(token, a.username);
      return send(200, { token });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Token /, ''));
    const account = who === undefined ? undefined : accounts.get(keyOf(who));
    if (!account) return send(401, { error: 'sign in first' });
    if (req.method === 'GET' && url === '/pages')
      return send(200, [{ slug: 'onboarding', title: 'Onboarding' }]);
    if (req.method === 'GET' && url === '/admin/audit-log') {
      const isAdmin =
        mode === 'fixed' ? account.role === 'admin' : account.username.toLowerCase() === 'wikiadmin';
      if (!isAdmin) return send(403, { error: 'admins only' });
      return send(200, AUDIT);
    }
    return send(404, { error: 'not found' });
  });
  return api.then((s) => ({ ...s, accounts }));
}

const identity = (a: (typeof SEED)[number], name: string) => ({
  name,
  login: { path: '/login', body: { username: a.username, password: a.password }, scheme: 'Token' },
});
const OPTIONS = {
  identities: [identity(SEED[1], 'hedda'), identity(SEED[2], 'ruben')],
  admin: identity(SEED[0], 'root'),
  checks: ['API5'],
  ratePerSecond: 200,
};

describe("the admin's login name registered with another case", () => {
  const runs = {} as Record<Mode, ScanResult>;
  let overwritten: Map<string, { username: string; password: string; role: string }>;
  before(async () => {
    const scans = await scanTwins(SPEC, (fixed) => startWiki(fixed ? 'fixed' : 'vulnerable'), OPTIONS);
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-variant-'));
    const api = await startWiki('overwrite');
    try {
      await writeFile(path.join(dir, 'spec.json'), JSON.stringify(SPEC));
      runs.overwrite = await runScan({ ...OPTIONS, spec: path.join(dir, 'spec.json'), target: api.url });
      overwritten = api.accounts;
    } finally {
      api.server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('Wikiadmin reads the audit log: API5', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api5-bfla' && x.operation?.operationId === 'auditLog',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(
      f.message,
      /registered as "Wikiadmin" \(the admin's login name "wikiadmin" with another case\)/,
    );
    assert.match(f.message, /while hedda is refused \(403\)/);
  });

  test('the fixed twin: the admin is a role, no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });

  test("a sign-up that overwrites names differing in case: the admin's variant is never registered", () => {
    assert.deepEqual(operationsFound(runs.overwrite), []);
    const admin = overwritten.get('wikiadmin');
    assert.equal(admin?.password, SEED[0].password);
    assert.equal(admin?.role, 'admin');
    // The scan did try its own names (pcn..., then PCN... replacing it) before giving up.
    assert.ok([...overwritten.keys()].some((k) => /^pcn[0-9a-f]{8}$/.test(k)));
  });
});
