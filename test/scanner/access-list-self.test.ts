import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Teams in the style of a small Express app with camelCase JSON (`{"team": {...}}`, errors `{"message"}`), Bearer
 * tokens from `POST /api/auth {login, secret}` whose answer names the caller (`{accessToken, account: {id}}`).
 * Anyone may create a team and becomes its owner; `POST /api/teams/{teamId}/members {accountId, level}` adds a
 * member or, for someone already one, sets their level (an upsert). Discovery's plain creation of a member as
 * alice, in the team the scan made as alice, named alice's own account id and demoted her from owner to viewer of
 * it (the object the checks then test). Vulnerable: any signed-in caller reads any team; fixed twin: members only.
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const teamId = { name: 'teamId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'teams', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth': {
      post: {
        operationId: 'auth',
        security: [],
        requestBody: body({ login: { type: 'string' }, secret: { type: 'string' } }, ['login', 'secret']),
        responses: { '200': { description: 'token' }, '401': { description: 'refused' } },
      },
    },
    '/api/teams': {
      get: { operationId: 'myTeams', responses: { '200': { description: 'your teams' } } },
      post: {
        operationId: 'createTeam',
        requestBody: body({ title: { type: 'string' } }, ['title']),
        responses: { '201': { description: 'the team' } },
      },
    },
    '/api/teams/{teamId}': {
      get: {
        operationId: 'team',
        parameters: [teamId],
        responses: { '200': { description: 'a team' }, '404': { description: 'none' } },
      },
    },
    '/api/teams/{teamId}/members': {
      get: { operationId: 'members', parameters: [teamId], responses: { '200': { description: 'members' } } },
      post: {
        operationId: 'addMember',
        parameters: [teamId],
        requestBody: body(
          {
            accountId: { type: 'string', format: 'uuid' },
            level: { type: 'string', enum: ['viewer', 'editor'] },
          },
          ['accountId', 'level'],
        ),
        responses: { '201': { description: 'member' }, '403': { description: 'owners only' } },
      },
    },
  },
};

function startTeams(fixed: boolean) {
  const people = ['alice', 'bob'].map((login) => ({ id: randomUUID(), login, secret: `${login}-Secret-77` }));
  const teams: { id: string; title: string; notes: string }[] = [];
  const levels = new Map<string, Map<string, string>>();
  const made: { team: string; by: string }[] = [];
  const tokens = new Map<string, string>();
  const started = startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/auth') {
      const p = people.find((x) => x.login === b.login && x.secret === b.secret);
      if (!p) return sendJson(res, 401, { message: 'Bad login' });
      const t = randomUUID();
      tokens.set(t, p.id);
      return sendJson(res, 200, { accessToken: t, account: { id: p.id, login: p.login } });
    }
    const me = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return sendJson(res, 401, { message: 'Unauthorized' });
    if (path === '/api/teams' && req.method === 'POST') {
      if (typeof b.title !== 'string' || !b.title)
        return sendJson(res, 400, { message: 'title is required' });
      const t = { id: randomUUID(), title: b.title, notes: `private plans of ${me}` };
      teams.push(t);
      levels.set(t.id, new Map([[me, 'owner']]));
      made.push({ team: t.id, by: me });
      return sendJson(res, 201, { team: { id: t.id, title: t.title, level: 'owner' } });
    }
    if (path === '/api/teams' && req.method === 'GET')
      return sendJson(res, 200, {
        teams: teams.filter((t) => levels.get(t.id)?.has(me)).map((t) => ({ id: t.id, title: t.title })),
      });
    const m = /^\/api\/teams\/([^/]+)(\/members)?$/.exec(path);
    const team = m ? teams.find((t) => t.id === m[1]) : undefined;
    if (!m || !team) return sendJson(res, 404, { message: 'Not found' });
    const list = levels.get(team.id)!;
    if (!m[2] && req.method === 'GET') {
      if (fixed && !list.has(me)) return sendJson(res, 404, { message: 'Not found' });
      return sendJson(res, 200, { team: { id: team.id, title: team.title, notes: team.notes } });
    }
    if (m[2] && req.method === 'GET') {
      if (!list.has(me)) return sendJson(res, 404, { message: 'Not found' });
      return sendJson(res, 200, { members: [...list].map(([accountId, level]) => ({ accountId, level })) });
    }
    if (m[2] && req.method === 'POST') {
      if (list.get(me) !== 'owner') return sendJson(res, 403, { message: 'Owners only' });
      if (!people.some((p) => p.id === b.accountId) || !['viewer', 'editor'].includes(String(b.level)))
        return sendJson(res, 400, { message: 'accountId and level' });
      list.set(String(b.accountId), String(b.level)); // an upsert: an existing member's level is set
      return sendJson(res, 201, { member: { accountId: b.accountId, level: b.level } });
    }
    return sendJson(res, 404, { message: 'Not found' });
  });
  return started.then((s) => ({ ...s, people, levels, made }));
}

const identity = (login: string) => ({
  name: login,
  login: { path: '/api/auth', body: { login, secret: `${login}-Secret-77` } },
});

describe('discovery names no given identity in a list of who has access, even in a team the scan made', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startTeams>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startTeams, {
        identities: [identity('alice'), identity('bob')],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("every team's creator is still its owner, and no given identity joined another's team (both twins)", () => {
    for (const twin of [scans.vulnerable, scans.fixed]) {
      assert.ok(twin.api.made.length > 0, 'the scan made a team');
      for (const m of twin.api.made)
        assert.deepEqual([...(twin.api.levels.get(m.team) ?? [])], [[m.by, 'owner']], m.team);
    }
  });

  test("vulnerable: one identity reads the other's team", () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, operationsFound(scans.vulnerable.result).join());
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
