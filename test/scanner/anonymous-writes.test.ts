import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An allotment society's API in Phoenix's style: every answer in a `{"data": ...}` envelope, 422 with
 * `{"errors": {field: [...]}}`, a bearer token from `POST /api/sessions` (`{"data": {"token"}}`), members signing
 * up at `POST /api/users`, `GET/PUT/DELETE /api/users/{id}`, and garden plots: `POST /api/plots`,
 * `GET/PATCH/DELETE /api/plots/{id}`. The document declares bearer security on everything but the sign-up and
 * the session.
 *
 * Vulnerable: the member routes' PUT and DELETE and the plot's DELETE check no credentials at all (anyone changes
 * or deletes any member or plot); the plot's PATCH checks the owner only when a token is sent (another member is
 * refused with 403, a request without any token goes through). Reads are the owner's only. Fixed twin: every
 * change and delete needs a token and is the owner's only (401 without, 403 for another member).
 *
 * The flaw is the function open to anyone (API5), not an object handed to the wrong member (API1): each is
 * reported once, as `scan/api5-anonymous-write`, and not again as another member's change or delete.
 *
 * The warden (an admin) removes members at `DELETE /api/admin/members/{id}`. Vulnerable: the role is checked
 * only when a token is sent (an ordinary member 403, no token at all 204). Fixed: 401 without a token.
 */
const data = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties: { data: { type: 'object', properties } },
});
const MEMBER = {
  id: { type: 'integer' },
  username: { type: 'string' },
  email: { type: 'string' },
  bio: { type: 'string' },
};
const PLOT = {
  id: { type: 'integer' },
  label: { type: 'string' },
  crop: { type: 'string' },
  member_id: { type: 'integer' },
};
const ID = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'allotments', version: '1.2.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/sessions': {
      post: {
        operationId: 'createSession',
        security: [],
        requestBody: json({
          type: 'object',
          properties: { username: { type: 'string' }, password: { type: 'string' } },
        }),
        responses: { '201': { description: 'a session', ...json(data({ token: { type: 'string' } })) } },
      },
    },
    '/api/users': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: json({
          type: 'object',
          required: ['username', 'email', 'password'],
          properties: {
            username: { type: 'string' },
            email: { type: 'string' },
            password: { type: 'string' },
          },
        }),
        responses: { '201': { description: 'the member', ...json(data(MEMBER)) } },
      },
    },
    '/api/users/{id}': {
      get: {
        operationId: 'showMember',
        parameters: ID,
        responses: { '200': { description: 'a member', ...json(data(MEMBER)) } },
      },
      put: {
        operationId: 'updateMember',
        parameters: ID,
        requestBody: json({ type: 'object', properties: { bio: { type: 'string' } } }),
        responses: { '200': { description: 'the member', ...json(data(MEMBER)) } },
      },
      delete: { operationId: 'deleteMember', parameters: ID, responses: { '204': { description: 'gone' } } },
    },
    '/api/admin/members/{id}': {
      delete: {
        operationId: 'removeMember',
        summary: 'Remove a member (wardens only)',
        parameters: ID,
        responses: { '204': { description: 'removed' } },
      },
    },
    '/api/plots': {
      post: {
        operationId: 'createPlot',
        requestBody: json({
          type: 'object',
          required: ['label'],
          properties: { label: { type: 'string' }, crop: { type: 'string' } },
        }),
        responses: { '201': { description: 'the plot', ...json(data(PLOT)) } },
      },
    },
    '/api/plots/{id}': {
      get: {
        operationId: 'showPlot',
        parameters: ID,
        responses: { '200': { description: 'a plot', ...json(data(PLOT)) } },
      },
      patch: {
        operationId: 'updatePlot',
        parameters: ID,
        requestBody: json({ type: 'object', properties: { crop: { type: 'string' } } }),
        responses: { '200': { description: 'the plot', ...json(data(PLOT)) } },
      },
      delete: { operationId: 'deletePlot', parameters: ID, responses: { '204': { description: 'gone' } } },
    },
  },
};

interface Society {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly members: Map<number, Record<string, unknown>>;
  readonly plots: Map<number, Record<string, unknown>>;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readText(req);
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

async function startSociety(fixed: boolean): Promise<Society> {
  const members = new Map<number, Record<string, unknown>>();
  const passwords = new Map<number, string>();
  const plots = new Map<number, Record<string, unknown>>();
  const tokens = new Map<string, number>();
  let next = 1;
  const join = (username: string, email: string, password: string) => {
    const id = next++;
    members.set(id, { id, username, email, bio: '' });
    passwords.set(id, password);
    return members.get(id)!;
  };
  join('marta', 'marta@allotments.test', 'marta-digs-5');
  join('yusuf', 'yusuf@allotments.test', 'yusuf-digs-8');
  const warden = join('warden', 'warden@allotments.test', 'warden-keys-3').id as number;
  const server = await startServer(async (req, res) => {
    const send = (status: number, payload?: unknown) => {
      res.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const path = (req.url ?? '/').split('?')[0];
    const input = await body(req);
    const caller = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const signedIn = caller !== undefined && members.has(caller);
    if (req.method === 'POST' && path === '/api/sessions') {
      const m = [...members.values()].find((x) => x.username === input.username);
      if (!m || passwords.get(m.id as number) !== input.password)
        return send(401, { errors: { detail: 'invalid username or password' } });
      const token = `t${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
      tokens.set(token, m.id as number);
      return send(201, { data: { token } });
    }
    if (req.method === 'POST' && path === '/api/users') {
      const { username, email, password } = input;
      if (typeof username !== 'string' || typeof email !== 'string' || typeof password !== 'string')
        return send(422, { errors: { username: ["can't be blank"] } });
      if ([...members.values()].some((x) => x.username === username || x.email === email))
        return send(422, { errors: { email: ['has already been taken'] } });
      return send(201, { data: join(username, email, password) });
    }
    if (req.method === 'POST' && path === '/api/plots') {
      if (!signedIn) return send(401, { errors: { detail: 'unauthenticated' } });
      if (typeof input.label !== 'string') return send(422, { errors: { label: ["can't be blank"] } });
      const id = next++;
      const plot = { id, label: input.label, crop: String(input.crop ?? ''), member_id: caller };
      plots.set(id, plot);
      return send(201, { data: plot });
    }
    const removal = /^\/api\/admin\/members\/(\d+)$/.exec(path);
    if (removal && req.method === 'DELETE') {
      // Vulnerable: the role is checked only when a token is sent.
      if (fixed && !signedIn) return send(401, { errors: { detail: 'unauthenticated' } });
      if (signedIn && caller !== warden) return send(403, { errors: { detail: 'wardens only' } });
      const id = Number(removal[1]);
      if (!members.has(id)) return send(404, { errors: { detail: 'Not Found' } });
      members.delete(id);
      return send(204);
    }
    const m = /^\/api\/(users|plots)\/(\d+)$/.exec(path);
    if (!m) return send(404, { errors: { detail: 'Not Found' } });
    const id = Number(m[1] === 'users' ? m[2] : m[2]);
    const record = (m[1] === 'users' ? members : plots).get(id);
    if (!record) return send(404, { errors: { detail: 'Not Found' } });
    const owner = m[1] === 'users' ? id : (record.member_id as number);
    const own = signedIn && caller === owner;
    // The owner only: reads always; changes and deletes on the fixed twin.
    const ownerOnly = () =>
      !signedIn
        ? send(401, { errors: { detail: 'unauthenticated' } })
        : send(403, { errors: { detail: 'forbidden' } });
    if (req.method === 'GET') return own ? send(200, { data: record }) : ownerOnly();
    if (fixed && !own) return ownerOnly();
    // The vulnerable plot PATCH: the owner is checked only when a token is sent.
    if (!fixed && m[1] === 'plots' && req.method === 'PATCH' && signedIn && !own) return ownerOnly();
    if (req.method === 'DELETE') {
      (m[1] === 'users' ? members : plots).delete(id);
      return send(204);
    }
    if (m[1] === 'users' && req.method === 'PUT') {
      if (typeof input.bio === 'string') record.bio = input.bio;
      return send(200, { data: record });
    }
    if (m[1] === 'plots' && req.method === 'PATCH') {
      if (typeof input.crop === 'string') record.crop = input.crop;
      return send(200, { data: record });
    }
    return send(405, { errors: { detail: 'Method Not Allowed' } });
  });
  return { url: server.url, server: server.server, members, plots };
}

const member = (username: string, password: string) => ({
  name: username,
  login: { path: '/api/sessions', body: { username, password } },
});

describe('changes and deletes open to callers without credentials are API5, not API1', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Society }>;
  before(async () => {
    Object.assign(
      runs,
      await scanTwins(SPEC, startSociety, {
        identities: [member('marta', 'marta-digs-5'), member('yusuf', 'yusuf-digs-8')],
        checks: ['API1', 'API5'],
        ratePerSecond: 300,
      }),
    );
  });

  test('anonymous change and delete of a member account and of a plot: api5-anonymous-write', () => {
    const found = operationsFound(runs.vulnerable.result);
    for (const id of ['updateMember', 'deleteMember', 'deletePlot'])
      assert.ok(found.includes(`scan/api5-anonymous-write ${id}`), `${id}\n${found.join('\n')}`);
  });

  test("a plot's PATCH that checks the owner only when a token is sent: anonymous goes through", () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api5-anonymous-write' && x.operation?.operationId === 'updatePlot',
    );
    assert.ok(f, operationsFound(runs.vulnerable.result).join('\n'));
    assert.equal(f.rule.owasp, 'API5:2023');
    assert.match(f.message, /without credentials changed (marta|yusuf)'s object at \/api\/plots\/\d+/);
    assert.match(f.message, /declares security/);
  });

  test('no double report: the open functions are not also API1 findings', () => {
    const api1 = operationsFound(runs.vulnerable.result).filter((x) => x.startsWith('scan/api1'));
    assert.deepEqual(api1, []);
  });

  test('the given members keep their accounts, and their plots are only the scan-created ones touched', () => {
    for (const { api } of [runs.vulnerable, runs.fixed]) {
      const names = [...api.members.values()].map((x) => x.username);
      assert.ok(names.includes('marta') && names.includes('yusuf'), names.join(','));
      for (const x of api.members.values())
        if (x.username === 'marta' || x.username === 'yusuf') assert.equal(x.bio, '');
    }
  });

  test('the fixed twin (a token and the owner for every change): no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });
});

describe("an admin's function whose role is checked only when a token is sent", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Society }>;
  before(async () => {
    Object.assign(
      runs,
      await scanTwins(SPEC, startSociety, {
        identities: [member('marta', 'marta-digs-5'), member('yusuf', 'yusuf-digs-8')],
        admin: member('warden', 'warden-keys-3'),
        checks: ['API5'],
        ratePerSecond: 300,
      }),
    );
  });

  test('refused to an ordinary member, done for a caller without credentials: api5-bfla', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api5-bfla' && x.operation?.operationId === 'removeMember',
    );
    assert.ok(f, operationsFound(runs.vulnerable.result).join('\n'));
    assert.match(f.message, /a caller without credentials \((marta|yusuf) was refused with 403\)/);
    assert.match(f.message, /on an account the scan registered \(pcf[0-9a-f]+\)/);
  });

  test('the given members and the warden keep their accounts', () => {
    for (const { api } of [runs.vulnerable, runs.fixed]) {
      const names = [...api.members.values()].map((x) => x.username);
      for (const n of ['marta', 'yusuf', 'warden']) assert.ok(names.includes(n), names.join(','));
    }
  });

  test('the fixed twin (401 without a token): no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });
});
