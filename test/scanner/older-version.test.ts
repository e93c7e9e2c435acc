import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A members' directory behind an API key header, in two versions that wrap their answers differently:
 * `GET /api/accounts` answers `{"accounts": [...], "count": n}` and `GET /api/profile` the caller's record
 * itself; the older `GET /api/v1/accounts` answers `{"status": "success", "data": {"accounts": [...]}}` and
 * `GET /api/v1/profile` `{"status": "ok", "result": {"user": {...}}, "served_by": "v1"}`, with `user_name`
 * where the current version says `username`.
 *
 * Vulnerable: the older list's items still carry each member's `password_hash`. Fixed twin: they do not. On
 * both, the older profile differs from the current one by its envelope and a renamed member only: no finding.
 */
const KEYS: Record<string, number> = { 'key-ann': 1, 'key-ben': 2 };
const MEMBERS = [
  {
    id: 1,
    username: 'ann',
    email: 'ann@members.test',
    plan: 'gold',
    hash: '$2b$12$annannannannannannannannannannannannannannannannann',
  },
  {
    id: 2,
    username: 'ben',
    email: 'ben@members.test',
    plan: 'free',
    hash: '$2b$12$benbenbenbenbenbenbenbenbenbenbenbenbenbenbenbenben',
  },
  {
    id: 3,
    username: 'cat',
    email: 'cat@members.test',
    plan: 'free',
    hash: '$2b$12$catcatcatcatcatcatcatcatcatcatcatcatcatcatcatcatcat',
  },
];

const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const read = (operationId: string) => ({
  get: { operationId, responses: { '200': ok(operationId), '401': { description: 'no key' } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'members', version: '2' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/accounts': read('listAccounts'),
    '/api/v1/accounts': read('listAccountsV1'),
    '/api/profile': read('profile'),
    '/api/v1/profile': read('profileV1'),
  },
};

function startMembers(fixed: boolean) {
  return startServer((req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-ratelimit-limit': '100' });
      res.end(JSON.stringify(payload));
    };
    const caller = KEYS[String(req.headers['x-api-key'])];
    if (caller === undefined) return send(401, { error: 'api key required' });
    const me = MEMBERS.find((m) => m.id === caller);
    if (req.method !== 'GET' || !me) return send(405, { error: 'method not allowed' });
    const plain = ({ id, username, email, plan }: (typeof MEMBERS)[number]) => ({
      id,
      username,
      email,
      plan,
    });
    switch (new URL(req.url ?? '/', 'http://x').pathname) {
      case '/api/accounts':
        return send(200, { accounts: MEMBERS.map(plain), count: MEMBERS.length });
      case '/api/v1/accounts': {
        const accounts = MEMBERS.map((m) => (fixed ? plain(m) : { ...plain(m), password_hash: m.hash }));
        return send(200, { status: 'success', data: { accounts } });
      }
      case '/api/profile':
        return send(200, plain(me));
      case '/api/v1/profile':
        return send(200, {
          status: 'ok',
          result: { user: { id: me.id, user_name: me.username, email: me.email, plan: me.plan } },
          served_by: 'v1',
        });
      default:
        return send(404, { error: 'no such route' });
    }
  });
}

describe('API9: an older version compared record by record, whatever its envelope', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startMembers, {
      identities: [
        { name: 'ann', headers: { 'x-api-key': 'key-ann' } },
        { name: 'ben', headers: { 'x-api-key': 'key-ben' } },
      ],
      checks: ['API9'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('the older list shows password_hash inside its items', () => {
    const found = runs.vulnerable.findings.filter((f) => f.rule.id === 'scan/api9-older-version-weaker');
    assert.deepEqual(
      found.map((f) => f.operation?.operationId),
      ['listAccountsV1'],
    );
    assert.match(found[0].message, /does not: password_hash\.$/);
    assert.deepEqual(found[0].evidence?.extraFields, ['password_hash']);
  });

  test('finds nothing on the fixed twin (an envelope and a renamed member are no difference)', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
