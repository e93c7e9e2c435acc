import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A warehouse API in Koa's style (bare JSON answers, `{message}` errors, `Authorization: Bearer <key>`). Teams are
 * tenants: ana owns team 1, ben owns team 2, and both belong to team 3 (ana a viewer, ben an editor); `GET /me` and
 * `GET /teams` list them. Editors and owners add parts (`POST /teams/{teamId}/parts {sku, label, quantity}`); the
 * scan's own parts are made with `quantity: 1`, the number of ana's own team.
 *
 * Vulnerable twin: `GET /teams/{teamId}/parts` answers any team's parts to anyone signed in (a part's own route is
 * guarded on both). Fixed twin: members only. Review R1-R2: since the scan makes its parts, ben's part answered
 * `quantity: 1`; taken for a value ben had seen, ana's team 1 was no longer hers alone, her plans went to the shared
 * team 3 and ben never read team 1's parts (API1 skipped).
 */
const teamParam = { name: 'teamId', in: 'path', required: true, schema: { type: 'integer' } };
const partParam = { name: 'partId', in: 'path', required: true, schema: { type: 'integer' } };
const Part = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    team_id: { type: 'integer' },
    sku: { type: 'string' },
    label: { type: 'string' },
    quantity: { type: 'integer' },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'warehouse', version: '3' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'the caller and its teams' } } } },
    '/teams': {
      get: { operationId: 'myTeams', responses: { '200': { description: "the caller's teams" } } },
    },
    '/teams/{teamId}': {
      get: { operationId: 'getTeam', parameters: [teamParam], responses: { '200': { description: 'team' } } },
    },
    '/teams/{teamId}/parts': {
      get: {
        operationId: 'listParts',
        description: 'Members of the team only.',
        parameters: [teamParam],
        responses: { '200': { description: 'parts' } },
      },
      post: {
        operationId: 'addPart',
        description: 'Editors and owners.',
        parameters: [teamParam],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['sku', 'label', 'quantity'],
                properties: {
                  sku: { type: 'string' },
                  label: { type: 'string' },
                  quantity: { type: 'integer' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'added', content: { 'application/json': { schema: Part } } } },
      },
    },
    '/teams/{teamId}/parts/{partId}': {
      get: {
        operationId: 'getPart',
        parameters: [teamParam, partParam],
        responses: { '200': { description: 'part', content: { 'application/json': { schema: Part } } } },
      },
      delete: {
        operationId: 'removePart',
        description: 'Editors and owners.',
        parameters: [teamParam, partParam],
        responses: { '204': { description: 'removed' } },
      },
    },
  },
};

const USERS = [
  { id: 4, name: 'ana', key: 'wh_ana_8c21f0d9' },
  { id: 5, name: 'ben', key: 'wh_ben_41e7a6b3' },
];
const TEAMS = [
  { id: 1, slug: 'north', name: 'North depot' },
  { id: 2, slug: 'south', name: 'South depot' },
  { id: 3, slug: 'pool', name: 'Shared pool' },
];
const ROLES = [
  { team: 1, user: 4, role: 'owner' },
  { team: 2, user: 5, role: 'owner' },
  { team: 3, user: 4, role: 'viewer' },
  { team: 3, user: 5, role: 'editor' },
];
const SEEDED = [
  { id: 201, team_id: 1, sku: 'N-77', label: 'North gasket (supplier price list)', quantity: 40 },
  { id: 202, team_id: 2, sku: 'S-19', label: 'South bearing', quantity: 12 },
  { id: 203, team_id: 3, sku: 'P-03', label: 'Pool pallet', quantity: 6 },
];

function startWarehouse(fixed: boolean) {
  const parts = SEEDED.map((p) => ({ ...p }));
  let next = 301;
  const started = startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const auth = req.headers.authorization ?? '';
    const user = USERS.find((u) => auth === `Bearer ${u.key}`);
    if (!user) return sendJson(res, 401, { message: 'sign in' });
    const role = (team: number) => ROLES.find((r) => r.team === team && r.user === user.id)?.role;
    const mine = () => TEAMS.filter((t) => role(t.id) !== undefined).map((t) => ({ ...t, role: role(t.id) }));
    if (req.method === 'GET' && path === '/me')
      return sendJson(res, 200, { id: user.id, name: user.name, teams: mine() });
    if (req.method === 'GET' && path === '/teams') return sendJson(res, 200, { teams: mine() });
    const m = /^\/teams\/(\d+)(?:\/parts(?:\/(\d+))?)?$/.exec(path);
    const team = TEAMS.find((t) => String(t.id) === m?.[1]);
    if (!m || !team) return sendJson(res, 404, { message: 'not found' });
    const r = role(team.id);
    const listing = path.endsWith('/parts');
    if (req.method === 'GET' && listing) {
      if (fixed && !r) return sendJson(res, 404, { message: 'not found' }); // the flaw: no member check
      return sendJson(res, 200, { parts: parts.filter((p) => p.team_id === team.id) });
    }
    if (!r) return sendJson(res, 404, { message: 'not found' });
    if (req.method === 'GET' && m[2] === undefined) return sendJson(res, 200, team);
    if (req.method === 'POST' && listing) {
      if (r === 'viewer') return sendJson(res, 403, { message: 'editors and owners only' });
      const b = await readJson(req);
      if (!b || typeof b.sku !== 'string' || typeof b.label !== 'string' || !Number.isInteger(b.quantity))
        return sendJson(res, 422, { message: 'sku, label and quantity required' });
      const part = {
        id: next++,
        team_id: team.id,
        sku: b.sku,
        label: b.label,
        quantity: b.quantity as number,
      };
      parts.push(part);
      return sendJson(res, 201, part);
    }
    const part = parts.find((p) => p.team_id === team.id && String(p.id) === m[2]);
    if (!part) return sendJson(res, 404, { message: 'not found' });
    if (req.method === 'GET') return sendJson(res, 200, part);
    if (req.method === 'DELETE') {
      if (r === 'viewer') return sendJson(res, 403, { message: 'editors and owners only' });
      parts.splice(parts.indexOf(part), 1);
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 405, { message: 'method not allowed' });
  });
  return started.then((s) => ({ ...s, parts }));
}

describe("API1: a tenant's list open to anyone signed in, beside parts the scan made with quantity 1 (R1-R2)", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const left = {} as Record<'vulnerable' | 'fixed', unknown[]>;
  before(async () => {
    const scans = await scanTwins(SPEC, startWarehouse, {
      identities: USERS.map((u) => ({ name: u.name, headers: { Authorization: `Bearer ${u.key}` } })),
      checks: ['API1'],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const) {
      runs[kind] = scans[kind].result;
      left[kind] = scans[kind].api.parts;
    }
  });

  test("the vulnerable twin: ben reads ana's own team 1 (lost while the parts' quantity 1 counted as a value ben had seen)", () => {
    const messages = runs.vulnerable.findings.map((f) => f.message);
    assert.ok(
      messages.some((m) => /^ben read ana's data at \/teams\/1\/parts\b/.test(m)),
      messages.join('\n'),
    );
    const cell = runs.vulnerable.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'GET /teams/{teamId}/parts',
    );
    assert.equal(cell?.status, 'finding', JSON.stringify(cell));
  });

  test('the fixed twin: no API1 finding', () => {
    assert.deepEqual(
      runs.fixed.findings.map((f) => f.message),
      [],
    );
  });

  test("the scan's own parts are gone on both twins, the seeded ones untouched", () => {
    assert.deepEqual(left.vulnerable, SEEDED);
    assert.deepEqual(left.fixed, SEEDED);
  });
});
