/**
 * A large generated API in the style of Koa behind a JWT: 22 resources with five operations each (list, create,
 * read, PATCH, DELETE) plus a session, a profile and a health route, 113 operations in all. Errors are
 * `{"error": {"status": 404, "message": "Not Found"}}`, a creation answers 201 with the record and a `Location`,
 * ids are short hex strings (`r3f0a`), lists are `{"items": [...], "total": n}`. A fixed-window limiter per client
 * address answers 429 with `Retry-After: 1` past `limitPerSecond` requests (none when 0).
 *
 * The vulnerable twin reads any owner's `invoices` record (API1); the fixed twin reads the caller's own only.
 * Used by test/scanner/large-document.test.ts, and by hand to measure scan time on a large document.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer } from '../kit/server.ts';

export const RESOURCES = [
  'projects',
  'tasks',
  'labels',
  'comments',
  'attachments',
  'milestones',
  'sprints',
  'boards',
  'columns',
  'webhooks',
  'teams',
  'invitations',
  'reports',
  'invoices',
  'payments',
  'customers',
  'contracts',
  'tickets',
  'articles',
  'templates',
  'schedules',
  'notes',
] as const;

const SECRET = 'large-api-secret-3b8c1d9e7f';
const b64 = (s: string) => Buffer.from(s).toString('base64url');
export function signJwt(claims: Record<string, unknown>): string {
  const head = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}
function verifyJwt(token: string): Record<string, unknown> | undefined {
  const [h, p, s] = token.split('.');
  if (!h || !p || !s) return undefined;
  if (createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url') !== s) return undefined;
  try {
    return JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export const USERS = {
  alice: { email: 'alice@large.test', password: 'Alice-pass-8812', id: 'u1' },
  bob: { email: 'bob@large.test', password: 'Bob-pass-4471', id: 'u2' },
  admin: { email: 'root@large.test', password: 'Root-pass-9920', id: 'u0' },
} as const;

const singular = (r: string) => r.replace(/ies$/, 'y').replace(/s$/, '');
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

/** The OpenAPI 3.0 document of the large API. */
export function largeSpec(): unknown {
  const record = {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 80, example: 'Quarterly plan' },
      description: { type: 'string', maxLength: 400 },
      priority: { type: 'integer', minimum: 1, maximum: 5 },
    },
    required: ['name'],
  };
  const err = { description: 'error', content: { 'application/json': { schema: { type: 'object' } } } };
  const ok = (description: string) => ({
    description,
    content: { 'application/json': { schema: { type: 'object' } } },
  });
  const paths: Record<string, unknown> = {
    '/api/sessions': {
      post: {
        operationId: 'createSession',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': ok('a session'), '401': err },
      },
    },
    '/api/profile': {
      get: { operationId: 'getProfile', responses: { '200': ok('the caller'), '401': err } },
    },
    '/api/health': { get: { operationId: 'health', security: [], responses: { '200': ok('up') } } },
  };
  for (const r of RESOURCES) {
    const one = cap(singular(r));
    paths[`/api/${r}`] = {
      get: {
        operationId: `list${cap(r)}`,
        parameters: [
          { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1 } },
          { name: 'per_page', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50 } },
        ],
        responses: { '200': ok(`the caller's ${r}`), '401': err },
      },
      post: {
        operationId: `create${one}`,
        requestBody: { required: true, content: { 'application/json': { schema: record } } },
        responses: { '201': ok(`a new ${singular(r)}`), '400': err, '401': err },
      },
    };
    const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
    paths[`/api/${r}/{id}`] = {
      get: {
        operationId: `get${one}`,
        parameters: [id],
        responses: { '200': ok(`a ${singular(r)}`), '404': err },
      },
      patch: {
        operationId: `update${one}`,
        parameters: [id],
        requestBody: { required: true, content: { 'application/json': { schema: record } } },
        responses: { '200': ok('updated'), '404': err },
      },
      delete: {
        operationId: `delete${one}`,
        parameters: [id],
        responses: { '204': { description: 'gone' }, '404': err },
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'large koa api', version: '2.4.0' },
    components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    security: [{ jwt: [] }],
    paths,
  };
}

interface Row {
  id: string;
  owner: string;
  name: string;
  description: string;
  priority: number;
}

export interface LargeApi {
  readonly url: string;
  readonly server: import('node:http').Server;
  /** Every record, by resource: the seeded ones of alice and bob must not change. */
  readonly rows: Map<string, Row[]>;
  /** Requests received, and those answered 429. */
  readonly counts: { requests: number; limited: number };
  close(): Promise<void>;
}

/** Starts the large API (the fixed twin with `fixed`), with a limiter of `limitPerSecond` (0: none). */
export async function startLargeApi(fixed: boolean, limitPerSecond = 0): Promise<LargeApi> {
  const rows = new Map<string, Row[]>();
  let next = 0x3f00;
  const newId = () => `r${(next++).toString(16)}`;
  for (const r of RESOURCES) {
    rows.set(r, [
      { id: newId(), owner: 'u1', name: `alice ${singular(r)}`, description: 'seeded', priority: 2 },
      { id: newId(), owner: 'u2', name: `bob ${singular(r)}`, description: 'seeded', priority: 3 },
    ]);
  }
  const counts = { requests: 0, limited: 0 };
  let window = 0;
  let inWindow = 0;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    counts.requests++;
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(
        status,
        body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      );
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const fail = (status: number, message: string, headers: Record<string, string> = {}) =>
      send(status, { error: { status, message } }, headers);
    if (limitPerSecond > 0) {
      const now = Math.floor(Date.now() / 1000);
      if (now !== window) {
        window = now;
        inWindow = 0;
      }
      if (++inWindow > limitPerSecond) {
        counts.limited++;
        return fail(429, 'Too Many Requests', { 'retry-after': '1' });
      }
    }
    const url = new URL(req.url ?? '/', 'http://large');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/api/health') return send(200, { status: 'up' });
    if (req.method === 'POST' && path === '/api/sessions') {
      let body: { email?: unknown; password?: unknown } = {};
      try {
        body = JSON.parse(text);
      } catch {
        return fail(400, 'Bad Request');
      }
      const user = Object.values(USERS).find((u) => u.email === body.email && u.password === body.password);
      if (!user) return fail(401, 'Invalid credentials');
      return send(201, { jwt: signJwt({ sub: user.id, role: user.id === 'u0' ? 'admin' : 'member' }) });
    }
    const claims = verifyJwt(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!claims || typeof claims.sub !== 'string') return fail(401, 'Unauthorized');
    const me = claims.sub;
    const admin = claims.role === 'admin';
    if (req.method === 'GET' && path === '/api/profile') {
      const user = Object.values(USERS).find((u) => u.id === me);
      return send(200, { id: me, email: user?.email });
    }
    const m = /^\/api\/([a-z]+)(?:\/([^/]+))?$/.exec(path);
    const list = m ? rows.get(m[1]) : undefined;
    if (!m || !list) return fail(404, 'Not Found');
    const visible = (row: Row) => row.owner === me || admin;
    if (m[2] === undefined) {
      if (req.method === 'GET') {
        const mine = list.filter(visible);
        const per = Math.min(50, Math.max(1, Number(url.searchParams.get('per_page') ?? 20) || 20));
        return send(200, { items: mine.slice(0, per), total: mine.length });
      }
      if (req.method === 'POST') {
        let body: Partial<Row> = {};
        try {
          body = JSON.parse(text);
        } catch {
          return fail(400, 'Bad Request');
        }
        if (typeof body.name !== 'string' || body.name.length > 80) return fail(400, 'name is required');
        const row: Row = {
          id: newId(),
          owner: me,
          name: body.name,
          description: typeof body.description === 'string' ? body.description.slice(0, 400) : '',
          priority: typeof body.priority === 'number' ? body.priority : 1,
        };
        list.push(row);
        return send(201, row, { location: `/api/${m[1]}/${row.id}` });
      }
      return fail(405, 'Method Not Allowed');
    }
    const row = list.find((r) => r.id === m[2]);
    // The one flaw: any caller reads any invoice (the fixed twin checks the owner).
    const readable = row && (visible(row) || (!fixed && m[1] === 'invoices' && req.method === 'GET'));
    if (!row || !readable) return fail(404, 'Not Found');
    if (req.method === 'GET') return send(200, row);
    if (req.method === 'PATCH') {
      let body: Partial<Row> = {};
      try {
        body = JSON.parse(text);
      } catch {
        return fail(400, 'Bad Request');
      }
      if (typeof body.name === 'string' && body.name.length <= 80) row.name = body.name;
      if (typeof body.description === 'string') row.description = body.description.slice(0, 400);
      return send(200, row);
    }
    if (req.method === 'DELETE') {
      list.splice(list.indexOf(row), 1);
      return send(204);
    }
    return fail(405, 'Method Not Allowed');
  };
  const api = await startServer((req, res) => {
    handler(req, res).catch(() => res.destroy());
  });
  return { url: api.url, server: api.server, rows, counts, close: api.close };
}

/** The identities a new user would configure for it: each logs in through `POST /api/sessions`. */
export function largeIdentity(role: keyof typeof USERS) {
  const { email, password } = USERS[role];
  return { name: role, login: { path: '/api/sessions', body: { email, password } } };
}
