import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * A member directory in a Flask style with no sign-up: each member edits its own profile at
 * `PATCH /api/users/me {display_name, bio}`; `GET /api/admin/users` is for admins, decided by the role the
 * caller has now. The vulnerable twin stores `role` (and `is_admin: true` as the admin role) when a body sends
 * it; the fixed twin ignores both. Three shapes:
 * - `hidden`: no answer ever shows the role (the update answers 204). A given identity's record must not be
 *   sent a field nothing shows: the scan could never see it stored nor set it back.
 * - `visible`: the profile shows the role and the update answers the profile. The flaw is found and set back.
 * - `stale`: the read hides the role, the update answers the profile as it was before the change (an ORM
 *   answering the old document). What is sent is set back; a set-back the answers cannot confirm is loud.
 * After every scan the seeded roles are as they were.
 */
type Shape = 'hidden' | 'visible' | 'stale';

const PROFILE = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    display_name: { type: 'string' },
    bio: { type: 'string' },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'member directory', version: '1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/users/me': {
      get: {
        operationId: 'read_me',
        responses: { '200': { description: 'me', content: { 'application/json': { schema: PROFILE } } } },
      },
      patch: {
        operationId: 'update_me',
        summary: 'Update my profile',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { display_name: { type: 'string' }, bio: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          '200': { description: 'updated', content: { 'application/json': { schema: PROFILE } } },
          '204': { description: 'updated' },
        },
      },
    },
    '/api/admin/users': {
      get: {
        operationId: 'list_members',
        summary: 'All members (admins only)',
        responses: {
          '200': {
            description: 'members',
            content: { 'application/json': { schema: { type: 'array', items: PROFILE } } },
          },
          '403': { description: 'admins only' },
        },
      },
    },
  },
};

const TOKENS: Record<string, string> = {
  alice: 'tok-alice-5b1f0c',
  bob: 'tok-bob-77e2a9',
  root: 'tok-root-c03d41',
};
const SEED = [
  { id: 1, username: 'alice', display_name: 'Alice', bio: 'hi', role: 'user' },
  { id: 2, username: 'bob', display_name: 'Bob', bio: 'yo', role: 'user' },
  { id: 3, username: 'root', display_name: 'Root', bio: '', role: 'admin' },
];
const PRIVILEGE_NAMES = /"(role|roles|is_?admin|isAdmin|admin|is_superuser|is_staff|permissions)"\s*:/;

interface Directory extends TestServer {
  readonly users: Map<string, Record<string, unknown>>;
  /** Bodies of the writes each caller sent. */
  readonly writes: { readonly as: string; readonly body: string }[];
}

function starter(shape: Shape) {
  return async (fixed: boolean): Promise<Directory> => {
    const users = new Map<string, Record<string, unknown>>(SEED.map((u) => [u.username, { ...u }]));
    const writes: { as: string; body: string }[] = [];
    const view = (u: Record<string, unknown>) => {
      const { role, ...shown } = u;
      return shape === 'visible' ? { ...shown, role } : shown;
    };
    const server = await startServer((req, res) => {
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, {
          'content-type': 'application/json',
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
        });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      let raw = '';
      req.on('data', (c) => {
        raw += c;
      });
      req.on('end', () => {
        const auth = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
        const name = Object.keys(TOKENS).find((k) => TOKENS[k] === auth);
        if (name === undefined) return send(401, { error: 'unauthorized' });
        const user = users.get(name)!;
        const path = (req.url ?? '').split('?')[0].replace(/\/$/, '');
        if (req.method !== 'GET') writes.push({ as: name, body: raw });
        if (path === '/api/users/me' && req.method === 'GET') return send(200, view(user));
        if (path === '/api/users/me' && req.method === 'PATCH') {
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(raw);
          } catch {
            return send(400, { error: 'invalid JSON' });
          }
          if (body === null || typeof body !== 'object' || Array.isArray(body))
            return send(400, { error: 'expected an object' });
          const old = { ...view(user), role: user.role };
          for (const k of ['display_name', 'bio']) {
            if (k in body) {
              if (typeof body[k] !== 'string' || (body[k] as string).length > 200)
                return send(422, { error: k });
              user[k] = body[k];
            }
          }
          if (!fixed) {
            // The flaw: the model is updated from the whole body.
            if (typeof body.role === 'string') user.role = body.role;
            if (body.is_admin === true) user.role = 'admin';
          }
          if (shape === 'hidden') return send(204);
          if (shape === 'stale') return send(200, old);
          return send(200, view(user));
        }
        if (path === '/api/admin/users' && req.method === 'GET') {
          if (user.role !== 'admin') return send(403, { error: 'admins only' });
          return send(200, [...users.values()].map(view));
        }
        return send(404, { error: 'not found' });
      });
    });
    return { ...server, users, writes };
  };
}

const options = {
  identities: [
    { name: 'alice', bearer: TOKENS.alice },
    { name: 'bob', bearer: TOKENS.bob },
  ],
  admin: { name: 'root', bearer: TOKENS.root },
  ratePerSecond: 400,
};

const massAssignment = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api3-mass-assignment').map((f) => f.message);
const roles = (d: Directory) => [...d.users.values()].map((u) => `${u.username}:${u.role}`);
const SEEDED = SEED.map((u) => `${u.username}:${u.role}`);

describe('API3 privilege probes of a given identity’s own profile (no sign-up)', () => {
  const runs = {} as Record<Shape, Awaited<ReturnType<typeof scanTwins<Directory>>>>;
  before(async () => {
    for (const shape of ['hidden', 'visible', 'stale'] as const)
      runs[shape] = await scanTwins(SPEC, starter(shape), options);
  });

  test('hidden role: never sent to alice or bob, roles as seeded, and the coverage says why', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { api, result } = runs.hidden[kind];
      assert.deepEqual(roles(api), SEEDED, `${kind}: ${result.warnings.join('; ')}`);
      const privileged = api.writes.filter((w) => w.as !== 'root' && PRIVILEGE_NAMES.test(w.body));
      assert.deepEqual(privileged, [], kind);
      assert.deepEqual(massAssignment(result), [], kind);
      const cell = result.coverage.matrix.find(
        (c) => c.check === 'API3' && c.operation === 'PATCH /api/users/me',
      );
      assert.match(String(cell?.reason), /not sent to bob's own record.*role.*read does not show/, kind);
    }
  });

  test('visible role: the flaw is found on bob and set back, confirmed, with no warning', () => {
    const { api, result } = runs.visible.vulnerable;
    const found = massAssignment(result);
    assert.equal(found.length, 1, result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n'));
    assert.match(found[0], /role \(privileged\)/);
    assert.deepEqual(roles(api), SEEDED);
    assert.ok(!result.warnings.some((w) => /ELEVATED/.test(w)), result.warnings.join('\n'));
    // Only the role the read shows was sent, never the flags it does not.
    const sent = api.writes.filter((w) => w.as === 'bob' && /"role"/.test(w.body));
    assert.ok(sent.length >= 2, 'probe and set-back');
    assert.ok(!api.writes.some((w) => /"is_admin"/.test(w.body)));
  });

  test('visible role, fixed twin: no mass assignment, roles as seeded', () => {
    const { api, result } = runs.visible.fixed;
    assert.deepEqual(massAssignment(result), []);
    assert.deepEqual(roles(api), SEEDED);
  });

  test('stale answers: what was sent is set back; a set-back the answers cannot confirm is a loud warning', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(roles(runs.stale[kind].api), SEEDED, kind);
    // The vulnerable twin's last answer shows the role as it was before the set-back: not confirmed, loud.
    const warning = runs.stale.vulnerable.result.warnings.find((w) => /ELEVATED/.test(w));
    assert.match(String(warning), /\bbob\b.*role/);
    assert.ok(!runs.stale.fixed.result.warnings.some((w) => /ELEVATED/.test(w)));
  });
});
