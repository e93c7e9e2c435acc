import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A staff rota in a Bottle-like style (static `X-Rota-Key` keys, `{"ok": ...}` answers), no sign-up: the scan cannot
 * make a user of its own. `DELETE /admin/users/{id}` answers `{"ok": true}` for any id, existing or not (it deletes
 * what it finds). Vulnerable: every signed-in user may call it; fixed twin: the admin only (403).
 *
 * A plain scan deletes nobody, and no made-up id gives a contrast (the admin's answer to it is a success): the
 * coverage says so, and what alice got there.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'staff rota', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Rota-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/admin/users': { get: { operationId: 'listUsers', responses: { '200': { description: 'users' } } } },
    '/admin/users/{id}': {
      delete: {
        operationId: 'deleteUser',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'done' }, '403': { description: 'admins only' } },
      },
    },
  },
};

const KEYS: Record<string, { name: string; admin: boolean }> = {
  'rk-root-71': { name: 'root', admin: true },
  'rk-alice-72': { name: 'alice', admin: false },
  'rk-bob-73': { name: 'bob', admin: false },
};

function startRota(fixed: boolean) {
  const users = [
    { id: 1, name: 'root' },
    { id: 2, name: 'alice' },
    { id: 3, name: 'bob' },
  ];
  return startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://rota').pathname;
    const me = KEYS[String(req.headers['x-rota-key'] ?? '')];
    if (!me) return sendJson(res, 401, { ok: false, error: 'key required' });
    if (req.method === 'GET' && path === '/admin/users') {
      if (!me.admin) return sendJson(res, 403, { ok: false, error: 'admins only' });
      return sendJson(res, 200, { ok: true, users });
    }
    const m = /^\/admin\/users\/(\d+)$/.exec(path);
    if (req.method === 'DELETE' && m) {
      if (fixed && !me.admin) return sendJson(res, 403, { ok: false, error: 'admins only' });
      const at = users.findIndex((u) => u.id === Number(m[1]));
      if (at >= 0) users.splice(at, 1);
      return sendJson(res, 200, { ok: true });
    }
    return sendJson(res, 404, { ok: false, error: 'no route' });
  }).then((api) => Object.assign(api, { users }));
}

const key = (name: string, k: string) => ({ name, headers: { 'X-Rota-Key': k } });

describe('API5 says why a delete of any user by id went untested, and what the ordinary user got', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startRota>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startRota, {
        identities: [key('alice', 'rk-alice-72'), key('bob', 'rk-bob-73')],
        admin: key('root', 'rk-root-71'),
        ratePerSecond: 200,
        checks: ['API1', 'API5'],
      }),
    );
  });

  const cell = (kind: 'vulnerable' | 'fixed') =>
    scans[kind].result.coverage.matrix.find(
      (c) => c.check === 'API5' && c.operation === 'DELETE /admin/users/{id}',
    );
  const said = (kind: 'vulnerable' | 'fixed') => {
    const c = cell(kind);
    return [c?.reason ?? '', ...((c as { notes?: string[] } | undefined)?.notes ?? [])].join(' | ');
  };

  test('nobody is deleted and no finding is made on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.deepEqual(operationsFound(scans[kind].result), []);
      assert.deepEqual(
        scans[kind].api.users.map((u) => u.name),
        ['root', 'alice', 'bob'],
      );
    }
  });

  test('the coverage says the made-up id gives no contrast, and what alice got there', () => {
    assert.match(
      said('vulnerable'),
      /not tested on a real object: .*is a success \(200\), not a "not found"/,
    );
    assert.match(
      said('vulnerable'),
      /alice \(an ordinary identity\) got a success too \(200, the same answer\)/,
    );
    assert.match(said('fixed'), /alice \(an ordinary identity\) was refused \(403\)/);
  });
});
