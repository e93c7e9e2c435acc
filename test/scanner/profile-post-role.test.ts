import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * A recipe-sharing site in an Express style with no sign-up: each cook reads its profile at `GET /api/profile`
 * and saves it with a POST (`Object.assign(user, req.body)` on the vulnerable twin, so `role` and `is_admin` are
 * stored; the fixed twin copies display_name and bio only). `GET /api/admin/cooks` is for admins, decided by the
 * role the caller has now. Callers give an X-Api-Key. Three shapes:
 * - `hidden`: `POST /api/profile`; no answer ever shows the role (the save answers `{ok: true}`). A given
 *   identity's own record must not be sent a field nothing shows.
 * - `hidden-update`: the same at `POST /api/profile/update` (the record read at `GET /api/profile`).
 * - `visible`: `POST /api/profile`; the profile shows the role and the save answers it. Found and set back.
 * - `account`: hidden, at `POST /api/users/{user_id}` read at `GET /api/users/{user_id}`, each identity configured
 *   with its id (`X-User-Id`); the API answers 403 to another cook's id.
 * After every scan the seeded roles are as they were.
 */
type Shape = 'hidden' | 'hidden-update' | 'visible' | 'account';

const PROFILE = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    handle: { type: 'string' },
    display_name: { type: 'string' },
    bio: { type: 'string' },
  },
};
const ok = (schema: object) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});

function spec(shape: Shape) {
  const save = {
    operationId: 'saveProfile',
    summary: 'Save my profile',
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
    responses: { ...ok(PROFILE), '422': { description: 'invalid' } },
  };
  const read = { operationId: 'readProfile', responses: ok(PROFILE) };
  return {
    openapi: '3.0.3',
    info: { title: 'recipe box', version: '1.0' },
    components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
    security: [{ key: [] }],
    paths: {
      ...(shape === 'hidden-update'
        ? { '/api/profile': { get: read }, '/api/profile/update': { post: save } }
        : shape === 'account'
          ? {
              '/api/users/{user_id}': {
                parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }],
                get: read,
                post: save,
              },
            }
          : { '/api/profile': { get: read, post: save } }),
      '/api/recipes': {
        get: { operationId: 'listRecipes', responses: ok({ type: 'array', items: { type: 'object' } }) },
      },
      '/api/admin/cooks': {
        get: {
          operationId: 'listCooks',
          summary: 'All cooks (admins only)',
          responses: { ...ok({ type: 'array', items: PROFILE }), '403': { description: 'admins only' } },
        },
      },
    },
  };
}

const KEYS: Record<string, string> = {
  alice: 'k-alice-3f9d27c1',
  bob: 'k-bob-81e0b4a6',
  chef: 'k-chef-0c72d5e8',
};
const SEED = [
  { id: 1, handle: 'alice', display_name: 'Alice', bio: 'soups', role: 'cook' },
  { id: 2, handle: 'bob', display_name: 'Bob', bio: 'bread', role: 'cook' },
  { id: 3, handle: 'chef', display_name: 'Chef', bio: '', role: 'admin' },
];
const PRIVILEGE_NAMES = /"(role|roles|is_?admin|isAdmin|admin|is_superuser|is_staff|permissions|scope)"\s*:/;

interface Site extends TestServer {
  readonly cooks: Map<string, Record<string, unknown>>;
  /** Bodies of the writes each caller sent. */
  readonly writes: { readonly as: string; readonly body: string }[];
}

function starter(shape: Shape) {
  const savePath = shape === 'hidden-update' ? '/api/profile/update' : '/api/profile';
  const readPath = '/api/profile';
  return async (fixed: boolean): Promise<Site> => {
    const cooks = new Map<string, Record<string, unknown>>(SEED.map((u) => [u.handle, { ...u }]));
    const writes: { as: string; body: string }[] = [];
    const view = (u: Record<string, unknown>) => {
      const { role, is_admin, ...shown } = u;
      return shape === 'visible' ? { ...shown, role } : shown;
    };
    const server = await startServer((req, res) => {
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'x-powered-by': 'Express',
        });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      let raw = '';
      req.on('data', (c) => {
        raw += c;
      });
      req.on('end', () => {
        const key = String(req.headers['x-api-key'] ?? '');
        const name = Object.keys(KEYS).find((k) => KEYS[k] === key);
        if (name === undefined) return send(401, { error: 'Unauthorized' });
        const cook = cooks.get(name)!;
        const path = (req.url ?? '').split('?')[0].replace(/\/$/, '');
        if (req.method !== 'GET') writes.push({ as: name, body: raw });
        const item = /^\/api\/users\/([^/]+)$/.exec(path);
        const mine = shape === 'account' ? item !== null && item[1] === String(cook.id) : path === savePath;
        if (shape === 'account' && item && !mine) return send(403, { error: 'Forbidden' });
        if ((shape === 'account' ? mine : path === readPath) && req.method === 'GET')
          return send(200, view(cook));
        if (mine && req.method === 'POST') {
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(raw);
          } catch {
            return send(400, { error: 'Bad JSON' });
          }
          if (body === null || typeof body !== 'object' || Array.isArray(body))
            return send(422, { error: 'expected an object' });
          for (const k of ['display_name', 'bio']) {
            if (k in body && (typeof body[k] !== 'string' || (body[k] as string).length > 200))
              return send(422, { error: `${k} is invalid` });
          }
          if (fixed) {
            for (const k of ['display_name', 'bio']) if (k in body) cook[k] = body[k];
          } else {
            // The flaw: the whole body is merged into the record.
            const { id, handle, ...rest } = body;
            Object.assign(cook, rest);
            if (cook.is_admin === true) cook.role = 'admin';
          }
          return send(200, shape === 'visible' ? view(cook) : { ok: true });
        }
        if (path === '/api/recipes' && req.method === 'GET')
          return send(200, [{ id: 7, title: 'Leek soup' }]);
        if (path === '/api/admin/cooks' && req.method === 'GET') {
          if (cook.role !== 'admin') return send(403, { error: 'Forbidden' });
          return send(200, [...cooks.values()].map(view));
        }
        return send(404, { error: 'Not Found' });
      });
    });
    return { ...server, cooks, writes };
  };
}

const options = {
  identities: [
    { name: 'alice', headers: { 'X-Api-Key': KEYS.alice, 'X-User-Id': '1' } },
    { name: 'bob', headers: { 'X-Api-Key': KEYS.bob, 'X-User-Id': '2' } },
  ],
  admin: { name: 'chef', headers: { 'X-Api-Key': KEYS.chef, 'X-User-Id': '3' } },
  ratePerSecond: 400,
};

const massAssignment = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api3-mass-assignment').map((f) => f.message);
const roles = (s: Site) =>
  [...s.cooks.values()].map((u) => `${u.handle}:${u.role}${u.is_admin !== undefined ? `+is_admin` : ''}`);
const SEEDED = SEED.map((u) => `${u.handle}:${u.role}`);

describe('API3 privilege probes of a POST to a given identity’s own profile (no sign-up)', () => {
  const runs = {} as Record<Shape, Awaited<ReturnType<typeof scanTwins<Site>>>>;
  before(async () => {
    for (const shape of ['hidden', 'hidden-update', 'visible', 'account'] as const)
      runs[shape] = await scanTwins(spec(shape), starter(shape), options);
  });

  const savedAt: Record<Shape, string> = {
    hidden: '/api/profile',
    'hidden-update': '/api/profile/update',
    visible: '/api/profile',
    account: '/api/users/{user_id}',
  };
  for (const shape of ['hidden', 'hidden-update', 'account'] as const) {
    test(`${shape}: no privilege field sent to alice or bob, roles as seeded, the coverage says why`, () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const { api, result } = runs[shape][kind];
        assert.deepEqual(roles(api), SEEDED, `${kind}: ${result.warnings.join('; ')}`);
        const privileged = api.writes.filter((w) => w.as !== 'chef' && PRIVILEGE_NAMES.test(w.body));
        assert.deepEqual(privileged, [], kind);
        // No member of the scan's own goes into a given identity's record (a merging save would keep it there):
        // with nothing the read shows to probe, there is no finding on either twin, and no marker is left.
        assert.deepEqual(massAssignment(result), [], kind);
        assert.ok(!api.writes.some((w) => /portcullisProbe/.test(w.body)), kind);
        assert.ok(!result.warnings.some((w) => /ELEVATED/.test(w)), result.warnings.join('\n'));
        const cell = result.coverage.matrix.find(
          (c) => c.check === 'API3' && c.operation === `POST ${savedAt[shape]}`,
        );
        // A finding's cell keeps the note beside it; a tested one holds it as its reason.
        const said = [cell?.reason, ...(cell?.notes ?? [])].join('\n');
        assert.match(said, /not sent to bob's own record.*role.*read does not show/, kind);
      }
    });
  }

  test('visible role: the flaw is found on bob and set back, confirmed, with no warning', () => {
    const { api, result } = runs.visible.vulnerable;
    const found = massAssignment(result);
    assert.equal(found.length, 1, result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n'));
    assert.match(found[0], /POST \/api\/profile .*role \(privileged\)/);
    assert.deepEqual(roles(api), SEEDED);
    assert.ok(!result.warnings.some((w) => /ELEVATED/.test(w)), result.warnings.join('\n'));
    // The role was sent (the probe) and sent back as it was (the set-back); never a flag the read does not show.
    const sent = api.writes.filter((w) => w.as === 'bob' && /"role"/.test(w.body));
    assert.ok(
      sent.some((w) => /"role":"admin"/.test(w.body)),
      'probe',
    );
    assert.ok(
      sent.some((w) => /"role":"cook"/.test(w.body)),
      'set-back',
    );
    assert.ok(!api.writes.some((w) => /"is_admin"/.test(w.body)));
    // Bob's profile text as it was too.
    assert.deepEqual([api.cooks.get('bob')?.display_name, api.cooks.get('bob')?.bio], ['Bob', 'bread']);
  });

  test('visible role, fixed twin: no mass assignment, roles as seeded', () => {
    const { api, result } = runs.visible.fixed;
    assert.deepEqual(massAssignment(result), []);
    assert.deepEqual(roles(api), SEEDED);
  });
});
