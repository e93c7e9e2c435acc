import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A box office in the style of a hand-written FastAPI app whose handlers read `await request.json()`: its
 * document declares no request body for any write. `POST /login` answers `{token, user: {id}}`; `GET /users`
 * lists every member (id, email, display name, role); `PUT /users/{user_id}` updates one's own record
 * (403 for another's), an empty body failing with 500 (the JSON decoder); `POST /tickets/purchase` wants
 * `{"event": ...}` and answers pydantic's 422 (`loc: ["body"]` without a body, `["body", "event"]` for `{}`);
 * `POST /users/{user_id}/change-email` and `POST /set-role {username, role}` change an account.
 *
 * Vulnerable: the update stores any field (`role: admin` included) and tickets can be bought again and again.
 * Fixed twin: the update keeps only `display_name`, one ticket per member and event (409 after).
 * Both twins record every request: discovery must send neither account change, as anyone.
 */
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'box office', version: '0.3.0' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Member: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          email: { type: 'string' },
          display_name: { type: 'string' },
          role: { type: 'string' },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'token' } },
      },
    },
    '/users': {
      get: {
        operationId: 'listUsers',
        responses: {
          '200': {
            description: 'members',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { users: { type: 'array', items: { $ref: '#/components/schemas/Member' } } },
                },
              },
            },
          },
        },
      },
    },
    '/users/{user_id}': {
      put: {
        operationId: 'updateUser',
        parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'updated',
            content: {
              'application/json': {
                schema: { type: 'object', properties: { updated: { $ref: '#/components/schemas/Member' } } },
              },
            },
          },
          '422': { description: 'Validation Error' },
        },
      },
    },
    '/users/{user_id}/change-email': {
      post: {
        operationId: 'changeEmail',
        parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'changed' } },
      },
    },
    '/set-role': {
      post: {
        operationId: 'setRole',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, role: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'promoted' } },
      },
    },
    '/tickets/purchase': {
      post: { operationId: 'purchaseTicket', responses: { '200': { description: 'a ticket' } } },
    },
  },
};

interface Member {
  id: string;
  email: string;
  password: string;
  display_name: string;
  role: string;
  [field: string]: unknown;
}

async function jsonOf(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false }> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

interface BoxOffice {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly members: Map<string, Member>;
  readonly requests: string[];
}

async function startBoxOffice(fixed: boolean): Promise<BoxOffice> {
  const members = new Map<string, Member>([
    [
      'm-101',
      { id: 'm-101', email: 'ana@box.test', password: 'ana-pw-4410', display_name: 'Ana', role: 'fan' },
    ],
    [
      'm-102',
      { id: 'm-102', email: 'ben@box.test', password: 'ben-pw-8812', display_name: 'Ben', role: 'fan' },
    ],
  ]);
  const tokens = new Map<string, string>();
  const bought = new Set<string>();
  // Seats sold: each purchase takes the next one (the vulnerable twin sells one member seat after seat).
  let sold = 0;
  const requests: string[] = [];
  const server = await startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await jsonOf(req);
    if (url.pathname === '/login' && req.method === 'POST') {
      const v = (body.ok ? body.value : {}) as { email?: string; password?: string };
      const m = [...members.values()].find((x) => x.email === v.email && x.password === v.password);
      if (!m) return send(401, { detail: 'Incorrect email or password' });
      const token = `t-${m.id}-${tokens.size}`;
      tokens.set(token, m.id);
      return send(200, { token, user: { id: m.id } });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    requests.push(`${req.method} ${url.pathname} ${who ?? '-'}`);
    if (who === undefined) return send(401, { detail: 'Not authenticated' });
    const me = members.get(who) as Member;
    if (url.pathname === '/users' && req.method === 'GET') {
      return send(200, {
        users: [...members.values()].map(({ password: _, ...m }) => m),
      });
    }
    const user = /^\/users\/([^/]+)$/.exec(url.pathname);
    if (user && req.method === 'PUT') {
      if (!body.ok) return send(500, { detail: 'Internal Server Error' });
      const target = members.get(decodeURIComponent(user[1]));
      if (!target) return send(404, { detail: 'Not found' });
      if (target !== me) return send(403, { detail: 'Forbidden' });
      const changes = (body.value ?? {}) as Record<string, unknown>;
      if (fixed) {
        if (typeof changes.display_name === 'string') target.display_name = changes.display_name;
      } else {
        for (const [k, v] of Object.entries(changes)) if (k !== 'id' && k !== 'password') target[k] = v;
      }
      const { password: _, ...shown } = target;
      return send(200, { updated: shown });
    }
    if (url.pathname.endsWith('/change-email') || url.pathname === '/set-role') {
      // Either would change an account: the scan must not call them in discovery.
      return send(200, { status: 'changed' });
    }
    if (url.pathname === '/tickets/purchase' && req.method === 'POST') {
      if (!body.ok) {
        return send(422, {
          detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }],
        });
      }
      const v = body.value as Record<string, unknown>;
      if (typeof v?.event !== 'string') {
        return send(422, {
          detail: [{ type: 'missing', loc: ['body', 'event'], msg: 'Field required', input: v }],
        });
      }
      const key = `${who}\0${v.event}`;
      if (fixed && bought.has(key)) return send(409, { detail: 'one ticket per member and event' });
      bought.add(key);
      sold++;
      return send(200, { status: 'purchased', event: v.event, seat: sold });
    }
    return send(404, { detail: 'Not Found' });
  });
  return { url: server.url, server: server.server, members, requests };
}

const identity = (name: string, email: string, password: string) => ({
  name,
  login: { path: '/login', body: { email, password } },
});

describe('operations whose document declares no request body', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: BoxOffice }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startBoxOffice, {
      identities: [
        identity('ana', 'ana@box.test', 'ana-pw-4410'),
        identity('ben', 'ben@box.test', 'ben-pw-8812'),
      ],
      checks: ['API3', 'API6'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable;
    runs.fixed = scans.fixed;
  });

  test("mass assignment on the identity's own record without a body schema, and set back", () => {
    const { result, api } = runs.vulnerable;
    const f = result.findings.find((x) => x.rule.id === 'scan/api3-mass-assignment');
    assert.ok(f, operationsFound(result).join('\n'));
    assert.equal(f.operation?.operationId, 'updateUser');
    assert.match(f.message, /role \(privileged\)/);
    // The probe went to the last identity's own record only, and its role is set back.
    assert.equal(api.members.get('m-102')?.role, 'fan');
    assert.equal(api.members.get('m-101')?.role, 'fan');
    assert.equal(api.members.get('m-102')?.email, 'ben@box.test');
    assert.ok(!api.requests.some((r) => r.startsWith('PUT /users/m-101')), 'no write to ana');
  });

  test('a purchase learnt from its 422s ({} then the field named) and repeated at will', () => {
    const { result } = runs.vulnerable;
    const f = result.findings.find((x) => x.rule.id === 'scan/api6-repeatable-business-flow');
    assert.ok(f, operationsFound(result).join('\n'));
    assert.equal(f.operation?.operationId, 'purchaseTicket');
  });

  test('discovery sends no account change, as anyone', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const sent = runs[kind].api.requests.filter((r) => /change-email|set-role/.test(r));
      assert.deepEqual(sent, [], kind);
    }
  });

  test('the fixed twin: no finding, records unchanged', () => {
    const { result, api } = runs.fixed;
    assert.deepEqual(operationsFound(result), [], result.findings.map((x) => x.message).join('\n'));
    assert.equal(api.members.get('m-102')?.role, 'fan');
    assert.equal(api.members.get('m-102')?.email, 'ben@box.test');
  });
});
