import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A Rails-style multi-tenant tracker (`Authorization: Token token="..."`, errors as `{"errors": [...]}`, 201 with
 * the record): `GET /api/orgs/{org_id}` shows an organisation to its members, `POST /api/orgs/{org_id}/projects`
 * creates a project in it, `GET`/`DELETE /api/orgs/{org_id}/projects/{id}`. Nothing lists the organisations or
 * gives out their ids, so the scan confirms small ids: alice gets a record for org 1 (hers), bob for org 2 (his).
 * The vulnerable twin lets anyone signed in create a project in any organisation (a cross-tenant write); the
 * fixed twin only in one's own. A plain scan must create as alice only under org 1 and as bob only under org 2:
 * an id one identity confirmed is not the other's tenant (on the vulnerable twin the creation would land in the
 * other identity's real organisation).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tracker', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/orgs/{org_id}': {
      parameters: [{ name: 'org_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'showOrg', responses: { '200': { description: 'the organisation' } } },
    },
    '/api/orgs/{org_id}/projects': {
      parameters: [{ name: 'org_id', in: 'path', required: true, schema: { type: 'integer' } }],
      post: {
        operationId: 'createProject',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name'],
                properties: { name: { type: 'string' }, due_on: { type: 'string', format: 'date' } },
              },
            },
          },
        },
        responses: { '201': { description: 'created' }, '404': { description: 'no such organisation' } },
      },
    },
    '/api/orgs/{org_id}/projects/{id}': {
      parameters: [
        { name: 'org_id', in: 'path', required: true, schema: { type: 'integer' } },
        { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
      ],
      get: { operationId: 'showProject', responses: { '200': { description: 'the project' } } },
      delete: { operationId: 'destroyProject', responses: { '204': { description: 'gone' } } },
    },
  },
};

const TOKENS: Record<string, string> = { 'Token token="a81f0c"': 'alice', 'Token token="b29e7d"': 'bob' };
const ORGS: Record<number, { name: string; members: string[] }> = {
  1: { name: 'Acme', members: ['alice'] },
  2: { name: 'Globex', members: ['bob'] },
};

function startTracker(fixed: boolean) {
  const projects = new Map<number, { id: number; org_id: number; name: string; by: string }>([
    [1, { id: 1, org_id: 1, name: 'Roadmap', by: 'alice' }],
    [2, { id: 2, org_id: 2, name: 'Payroll', by: 'bob' }],
  ]);
  const created: { org: number; by: string }[] = [];
  let next = 3;
  const started = startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const who = TOKENS[String(req.headers.authorization ?? '')];
    if (!who) return sendJson(res, 401, { errors: ['You need to sign in'] });
    const m = /^\/api\/orgs\/(\d+)(?:\/projects(?:\/(\d+))?)?\/?$/.exec((req.url ?? '').split('?')[0]);
    const org = m ? ORGS[Number(m[1])] : undefined;
    if (!m || !org) return sendJson(res, 404, { errors: ['Not found'] });
    const orgId = Number(m[1]);
    const member = org.members.includes(who);
    const isProjects = (req.url ?? '').includes('/projects');
    if (!isProjects) {
      if (req.method !== 'GET') return sendJson(res, 405, { errors: ['Method not allowed'] });
      if (!member) return sendJson(res, 404, { errors: ['Not found'] });
      return sendJson(res, 200, { id: orgId, name: org.name });
    }
    if (m[2] === undefined) {
      if (req.method !== 'POST') return sendJson(res, 405, { errors: ['Method not allowed'] });
      if (fixed && !member) return sendJson(res, 404, { errors: ['Not found'] });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      } catch {
        return sendJson(res, 400, { errors: ['Bad JSON'] });
      }
      if (typeof body.name !== 'string' || body.name === '')
        return sendJson(res, 422, { errors: ["Name can't be blank"] });
      const p = { id: next++, org_id: orgId, name: body.name.slice(0, 100), by: who };
      projects.set(p.id, p);
      created.push({ org: orgId, by: who });
      return sendJson(res, 201, p);
    }
    const p = projects.get(Number(m[2]));
    if (!member || !p || p.org_id !== orgId) return sendJson(res, 404, { errors: ['Not found'] });
    if (req.method === 'GET') return sendJson(res, 200, p);
    if (req.method === 'DELETE') {
      if (p.by !== who) return sendJson(res, 403, { errors: ['Not yours'] });
      projects.delete(p.id);
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 405, { errors: ['Method not allowed'] });
  });
  return started.then((s) => ({ ...s, projects, created }));
}

describe("a creation as an identity goes under a parent id that identity read, never another's tenant", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startTracker>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startTracker, {
        identities: Object.entries(TOKENS).map(([t, name]) => ({ name, headers: { Authorization: t } })),
        ratePerSecond: 200,
      }),
    );
  });

  test('no project created by alice in org 2 or by bob in org 1, on either twin; own tenants used', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { created } = scans[kind].api;
      const foreign = created.filter((c) => !ORGS[c.org].members.includes(c.by));
      assert.deepEqual(foreign, [], `${kind}: ${JSON.stringify(created)}`);
      assert.ok(
        created.some((c) => c.by === 'alice' && c.org === 1),
        `${kind}: ${JSON.stringify(created)}`,
      );
    }
  });

  test("alice's and bob's seeded projects are as they were", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { projects } = scans[kind].api;
      assert.deepEqual(projects.get(1), { id: 1, org_id: 1, name: 'Roadmap', by: 'alice' }, kind);
      assert.deepEqual(projects.get(2), { id: 2, org_id: 2, name: 'Payroll', by: 'bob' }, kind);
    }
  });
});
