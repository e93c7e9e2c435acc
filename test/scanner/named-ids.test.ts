import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A club's members API (raw Node, an opaque session in an `X-Session` header from `POST /session`) where
 * members are named by their login (`/members/{memberId}` takes `alice`) and a statement is read by its
 * holder's account (`/statements/{holder_account_id}` takes the `account_id` the login answer gave).
 * Neither parameter has a harvested value of the same name: the first is a user name, the second a
 * role-prefixed account id.
 *
 * Vulnerable: any member reads any member's record and statement. Fixed twin: only one's own (403).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'club', version: '1' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session' } } },
  security: [{ session: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { login: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a session' } },
      },
    },
    '/members/{memberId}': {
      get: {
        operationId: 'readMember',
        parameters: [{ name: 'memberId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a member' }, '404': { description: 'no such member' } },
      },
    },
    '/statements/{holder_account_id}': {
      get: {
        operationId: 'readStatement',
        parameters: [{ name: 'holder_account_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a statement' }, '404': { description: 'no such account' } },
      },
    },
  },
};

const MEMBERS: Record<string, { password: string; account: string; email: string; balance: number }> = {
  alice: { password: 'alice-club-7', account: 'ACC-40711', email: 'alice@club.test', balance: 1520 },
  bob: { password: 'bob-club-9', account: 'ACC-52218', email: 'bob@club.test', balance: 87 },
};

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function startClub(fixed: boolean) {
  const sessions = new Map<string, string>();
  return startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/session') {
      const body = (await bodyOf(req)) as { login?: string; password?: string } | undefined;
      const member = MEMBERS[body?.login ?? ''];
      if (!member || member.password !== body?.password) return send(401, { error: 'bad login' });
      const session = `s${sessions.size + 1}${Math.random().toString(36).slice(2, 10)}`;
      sessions.set(session, body?.login ?? '');
      return send(200, { session, account_id: member.account });
    }
    const who = sessions.get(String(req.headers['x-session'] ?? ''));
    if (who === undefined) return send(401, { error: 'no session' });
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    const member = /^\/members\/([^/]+)$/.exec(url.pathname);
    if (member) {
      const name = decodeURIComponent(member[1]);
      const m = MEMBERS[name];
      if (!m) return send(404, { error: 'no such member' });
      if (fixed && name !== who) return send(403, { error: 'not yours' });
      return send(200, { login: name, email: m.email, account_id: m.account, joined: '2024-03-01' });
    }
    const statement = /^\/statements\/([^/]+)$/.exec(url.pathname);
    if (statement) {
      const account = decodeURIComponent(statement[1]);
      const owner = Object.entries(MEMBERS).find(([, m]) => m.account === account);
      if (!owner) return send(404, { error: 'no such account' });
      if (fixed && owner[0] !== who) return send(403, { error: 'not yours' });
      return send(200, { account, balance: owner[1].balance, lines: [{ amount: -12, label: 'bar tab' }] });
    }
    return send(404, { error: 'not found' });
  });
}

const identity = (name: string) => ({
  name,
  login: {
    path: '/session',
    body: { login: name, password: MEMBERS[name].password },
    tokenPointer: '/session',
    header: 'x-session',
  },
});

describe('ids that are user names, and role-prefixed id parameters', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startClub, {
      identities: [identity('alice'), identity('bob')],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("a member's record read by another member, named by its login", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api1-bola-read' && x.operation?.operationId === 'readMember',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /read (alice|bob)'s data at \/members\/(alice|bob)/);
  });

  test("a statement read by another member, the holder's account id from the login answer", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api1-bola-read' && x.operation?.operationId === 'readStatement',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /at \/statements\/ACC-(40711|52218)/);
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
