import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A climbing gym's members API in a hapi-like style (`{statusCode, error, message}` errors, `/v2` routes, the
 * session at `POST /v2/session`). Joining answers the stored member and a token; the member's own record is
 * read at its id; managers list everyone.
 * - `POST /v2/members/join`: vulnerable, the `role` a client sends is stored (`manager` opens the managers' list
 *   to that account); fixed twin, every new member is a `climber`.
 * - `PATCH /v2/members/{memberId}`: the member's own record (name, phone); vulnerable, `role` too.
 * - `GET /v2/manage/members`: managers only, on both twins.
 * - `DELETE /v2/members/{memberId}`: a member leaves (self or a manager).
 */
const json = (properties: Record<string, unknown>, required?: string[]) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', properties, ...(required ? { required } : {}) } },
  },
});
const ROLE = { type: 'string', enum: ['climber', 'coach', 'manager'] };
const MEMBER_ID = [{ name: 'memberId', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'gym members', version: '2' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v2/members/join': {
      post: {
        operationId: 'join',
        summary: 'Become a member',
        security: [],
        requestBody: json(
          {
            email: { type: 'string', format: 'email' },
            password: { type: 'string' },
            fullName: { type: 'string' },
            role: ROLE,
          },
          ['email', 'password', 'fullName'],
        ),
        responses: { '201': { description: 'the member and a token' } },
      },
    },
    '/v2/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' }, '401': { description: 'no' } },
      },
    },
    '/v2/members/{memberId}': {
      get: {
        operationId: 'getMember',
        parameters: MEMBER_ID,
        responses: { '200': { description: 'the member' } },
      },
      patch: {
        operationId: 'updateMember',
        parameters: MEMBER_ID,
        requestBody: json({ fullName: { type: 'string' }, phone: { type: 'string' }, role: ROLE }),
        responses: { '200': { description: 'the member' } },
      },
      delete: {
        operationId: 'leave',
        parameters: MEMBER_ID,
        responses: { '204': { description: 'gone' } },
      },
    },
    '/v2/manage/members': {
      get: {
        operationId: 'allMembers',
        summary: 'Every member (managers)',
        responses: { '200': { description: 'members' } },
      },
    },
  },
};

interface Member {
  id: number;
  email: string;
  password: string;
  fullName: string;
  phone: string;
  role: string;
  joinedAt: string;
}

const GIVEN: Omit<Member, 'joinedAt'>[] = [
  {
    id: 1,
    email: 'rosa@gym.test',
    password: 'Rosa-pw-71',
    fullName: 'Rosa Manager',
    phone: '+3100',
    role: 'manager',
  },
  {
    id: 2,
    email: 'ana@gym.test',
    password: 'Ana-pw-72',
    fullName: 'Ana Climber',
    phone: '+3101',
    role: 'climber',
  },
  {
    id: 3,
    email: 'ben@gym.test',
    password: 'Ben-pw-73',
    fullName: 'Ben Climber',
    phone: '+3102',
    role: 'climber',
  },
];

function startGym(fixed: boolean) {
  const members = new Map<number, Member>(
    GIVEN.map((m) => [m.id, { ...m, joinedAt: '2026-01-0' + m.id + 'T10:00:00Z' }]),
  );
  let next = 10;
  const tokens = new Map<string, number>();
  const err = (res: import('node:http').ServerResponse, statusCode: number, error: string, message: string) =>
    sendJson(res, statusCode, { statusCode, error, message });
  const view = ({ password: _p, ...m }: Member) => m;
  const api = startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://gym').pathname;
    if (req.method === 'POST' && path === '/v2/members/join') {
      if (
        typeof body.email !== 'string' ||
        typeof body.password !== 'string' ||
        typeof body.fullName !== 'string'
      )
        return err(res, 400, 'Bad Request', 'email, password and fullName are required');
      if ([...members.values()].some((m) => m.email === body.email))
        return err(res, 409, 'Conflict', 'email already registered');
      const role =
        !fixed && typeof body.role === 'string' && ROLE.enum.includes(body.role) ? body.role : 'climber';
      const m: Member = {
        id: next++,
        email: body.email,
        password: body.password,
        fullName: body.fullName,
        phone: '',
        role,
        joinedAt: new Date().toISOString(),
      };
      members.set(m.id, m);
      const token = randomBytes(12).toString('hex');
      tokens.set(token, m.id);
      return sendJson(res, 201, { member: view(m), token });
    }
    if (req.method === 'POST' && path === '/v2/session') {
      const m = [...members.values()].find((x) => x.email === body.email && x.password === body.password);
      if (!m) return err(res, 401, 'Unauthorized', 'Invalid email or password');
      const token = randomBytes(12).toString('hex');
      tokens.set(token, m.id);
      return sendJson(res, 200, { token });
    }
    const me = members.get(tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? -1);
    if (!me) return err(res, 401, 'Unauthorized', 'Missing authentication');
    if (req.method === 'GET' && path === '/v2/manage/members') {
      if (me.role !== 'manager') return err(res, 403, 'Forbidden', 'Insufficient scope');
      return sendJson(res, 200, { members: [...members.values()].map(view) });
    }
    const item = /^\/v2\/members\/(\d+)$/.exec(path);
    if (item) {
      const m = members.get(Number(item[1]));
      if (!m) return err(res, 404, 'Not Found', 'No such member');
      if (m.id !== me.id && me.role !== 'manager') return err(res, 403, 'Forbidden', 'Not your record');
      if (req.method === 'GET') return sendJson(res, 200, view(m));
      if (req.method === 'DELETE') {
        members.delete(m.id);
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'PATCH') {
        if (typeof body.fullName === 'string') m.fullName = body.fullName;
        if (typeof body.phone === 'string') m.phone = body.phone;
        if (!fixed && typeof body.role === 'string' && ROLE.enum.includes(body.role)) m.role = body.role;
        return sendJson(res, 200, view(m));
      }
    }
    return err(res, 404, 'Not Found', 'Not Found');
  });
  return api.then((a) => Object.assign(a, { members }));
}

const signIn = (name: string, email: string, password: string) => ({
  name,
  login: { path: '/v2/session', body: { email, password } },
  params: { memberId: String(GIVEN.find((m) => m.email === email)!.id) },
});

describe('a sign-up that stores the role a client sends is proven on the scan’s own account, read back', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startGym>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startGym, {
        identities: [signIn('ana', 'ana@gym.test', 'Ana-pw-72'), signIn('ben', 'ben@gym.test', 'Ben-pw-73')],
        admin: signIn('rosa', 'rosa@gym.test', 'Rosa-pw-71'),
        ratePerSecond: 200,
        checks: ['API3', 'API5'],
      }),
    );
  });

  test('vulnerable: the sign-up and the update store the role', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api3-mass-assignment join'), found.join(', '));
    assert.ok(found.includes('scan/api3-mass-assignment updateMember'), found.join(', '));
  });

  test('fixed twin: no mass assignment', () => {
    const found = operationsFound(scans.fixed.result);
    assert.deepEqual(
      found.filter((f) => f.includes('mass-assignment')),
      [],
    );
  });

  test('every member the scan made is deleted or named in the report', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result, api } = scans[kind];
      const notes = result.notes.join('\n');
      for (const m of api.members.values()) {
        if (GIVEN.some((g) => g.id === m.id)) continue;
        assert.ok(
          notes.includes(m.email.split('@')[0]),
          `${kind}: ${m.email} (${m.role}) left and not named`,
        );
      }
    }
  });

  test('the given members keep their roles and records on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      for (const g of GIVEN) {
        const m = scans[kind].api.members.get(g.id);
        assert.ok(m, `${kind}: ${g.fullName} still there`);
        assert.equal(m.role, g.role, `${kind}: ${g.fullName}'s role`);
        assert.equal(m.fullName, g.fullName, `${kind}: ${g.fullName}'s name`);
      }
    }
  });
});
