import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PolicyConfigError, type PolicyHandler } from '../../../src/core/policy.ts';
import { problems } from '../../../src/core/problems.ts';
import { createApiKey } from '../../../src/policies/authenticate/api-key.ts';
import { authenticatePolicy } from '../../../src/policies/authenticate/policy.ts';
import type { AuthenticateConfig } from '../../../src/policies/authenticate/schema.ts';
import { authorizePolicy } from '../../../src/policies/authorize/policy.ts';
import { compileRule } from '../../../src/policies/authorize/rule.ts';
import type { AuthorizeConfig } from '../../../src/policies/authorize/schema.ts';
import { createTestContext, specOf } from '../../kit/policy.ts';
import { type PolicyServer, servePolicies } from '../../kit/policy-server.ts';

const OWNER_RULE = "request.path.accountId == principal.sub || 'admin' in principal.roles";

const spec = specOf({
  securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
  security: [{ key: [] }],
  paths: {
    '/accounts/{accountId}': {
      parameters: [{ name: 'accountId', in: 'path', required: true, schema: { type: 'string' } }],
      get: { operationId: 'getAccount', 'x-portcullis-authz': OWNER_RULE, responses: {} },
    },
    '/transfers': {
      post: {
        operationId: 'createTransfer',
        'x-portcullis-authz': { rule: "request.body.amount <= 100 || 'admin' in principal.roles" },
        responses: {},
      },
    },
    '/reports': {
      get: {
        operationId: 'getReports',
        'x-portcullis-authz': { rolesAnyOf: ['admin', 'auditor'] },
        responses: {},
      },
    },
    '/search': {
      get: {
        operationId: 'search',
        'x-portcullis-authz':
          "request.query.tenant == principal.claims.tenant && request.headers['x-purpose'] == 'support'",
        responses: {},
      },
    },
    '/public': {
      get: {
        operationId: 'publicThing',
        security: [{}],
        'x-portcullis-authz': OWNER_RULE.replace('request.path.accountId', "'x'"),
        responses: {},
      },
    },
    '/plain': { get: { operationId: 'plain', responses: {} } },
  },
});

describe('authorize policy', () => {
  const alice = createApiKey();
  const bob = createApiKey();
  const admin = createApiKey();
  let server: PolicyServer;
  let t: ReturnType<typeof createTestContext>;

  const authn: AuthenticateConfig = {
    mode: 'enforce',
    schemes: {
      key: {
        apiKey: {
          consumers: [
            { name: 'alice', roles: ['user'], keys: [alice.hash], metadata: { tenant: 't1' } },
            { name: 'bob', roles: ['user'], keys: [bob.hash], metadata: { tenant: 't2' } },
            { name: 'root', roles: ['admin'], keys: [admin.hash] },
          ],
        },
      },
    },
  };

  function authzFor(opId: string): AuthorizeConfig {
    const op = spec.operations.find((o) => o.id === opId)!;
    return { mode: 'enforce', ...authorizePolicy.fromSpec!(op, spec) };
  }

  before(async () => {
    t = createTestContext(spec);
    server = await servePolicies(spec, (op) => [
      authenticatePolicy.compile(authn, t.ctx(op.id)) as PolicyHandler,
      authorizePolicy.compile(authzFor(op.id), t.ctx(op.id)) as PolicyHandler | null,
    ]);
  });
  after(() => server.close());

  async function call(path: string, key: string | undefined, init: RequestInit = {}) {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    if (key !== undefined) headers['x-api-key'] = key;
    const res = await fetch(server.url + path, { ...init, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  test('lets a caller read their own object and refuses another caller with 403 rule_denied', async () => {
    assert.equal((await call('/accounts/alice', alice.key)).status, 200);
    t.events.length = 0;
    const r = await call('/accounts/alice', bob.key);
    assert.equal(r.status, 403);
    assert.equal(r.body.type, problems.forbidden.type);
    assert.deepEqual(
      [t.events[0]['event.reason'], t.events[0]['event.action'], t.events[0]['user.id']],
      ['rule_denied', 'authorize', 'bob'],
    );
  });

  test('lets an admin read any object', async () => {
    assert.equal((await call('/accounts/bob', admin.key)).status, 200);
  });

  test('decodes path parameters before the rule compares them', async () => {
    assert.equal((await call('/accounts/%61lice', alice.key)).status, 200);
  });

  test('evaluates rules over the JSON body, reading the body only for such rules', async () => {
    const post = (key: string, amount: number) =>
      call('/transfers', key, {
        method: 'POST',
        body: JSON.stringify({ amount }),
        headers: { 'content-type': 'application/json' },
      });
    assert.equal((await post(alice.key, 50)).status, 200);
    assert.equal((await post(alice.key, 500)).status, 403);
    assert.equal((await post(admin.key, 500)).status, 200);
    const getOp = authorizePolicy.compile(authzFor('getAccount'), t.ctx('getAccount')) as PolicyHandler;
    const postOp = authorizePolicy.compile(
      authzFor('createTransfer'),
      t.ctx('createTransfer'),
    ) as PolicyHandler;
    assert.deepEqual([getOp.needsRequestBody, postOp.needsRequestBody], [false, true]);
  });

  test('refuses a caller without any of the required roles with 403 insufficient_role', async () => {
    t.events.length = 0;
    assert.equal((await call('/reports', alice.key)).status, 403);
    assert.equal(t.events[0]['event.reason'], 'insufficient_role');
    assert.equal((await call('/reports', admin.key)).status, 200);
  });

  test('evaluates rules over query parameters, lower-case headers and principal claims', async () => {
    const h = { headers: { 'X-Purpose': 'support' } };
    assert.equal((await call('/search?tenant=t1', alice.key, h)).status, 200);
    assert.equal((await call('/search?tenant=t2', alice.key, h)).status, 403);
    assert.equal(
      (await call('/search?tenant=t1', alice.key)).status,
      403,
      'missing header makes the rule false or an error',
    );
  });

  test('denies anonymous callers where a rule exists unless allowAnonymous is set', async () => {
    t.events.length = 0;
    assert.equal((await call('/public', undefined)).status, 403);
    assert.equal(t.events[0]['event.reason'], 'no_principal');
  });

  test('denies with rule_error when the rule reads something the request lacks', async () => {
    t.events.length = 0;
    const r = await call('/transfers', alice.key, { method: 'POST', body: '{"note":1}' });
    assert.equal(r.status, 403);
    assert.equal(t.events[0]['event.reason'], 'rule_error');
  });

  test('compiles to nothing for an operation without rules', () => {
    assert.equal(authorizePolicy.compile({ mode: 'enforce' }, t.ctx('plain')), null);
  });

  test('fails the load naming the operation for an invalid expression, an unknown name or an undeclared path parameter', () => {
    const cases = [
      'request.path.accountId == principal.sub ||',
      'user.id == 1',
      'request.pathz.accountId == principal.sub',
      'request.path.userId == principal.sub',
    ];
    for (const rule of cases) {
      assert.throws(
        () => authorizePolicy.compile({ mode: 'enforce', rule }, t.ctx('getAccount')),
        (e: unknown) =>
          e instanceof PolicyConfigError && e.path === 'rule' && e.message.includes('getAccount'),
        rule,
      );
    }
  });
});

describe('CEL rule compiler', () => {
  test('knows comprehension variables are not free names', () => {
    const r = compileRule("principal.roles.exists(r, r == 'admin') || principal.scopes.all(s, s != 'x')");
    assert.equal(r.evaluate({ request: {}, principal: { roles: ['admin'], scopes: [] } }), true);
  });

  test('records which request fields a rule reads', () => {
    assert.deepEqual([...compileRule("request.method == 'GET'").requestFields], ['method']);
    assert.equal(compileRule('size(request) > 0').requestFields.size, 5);
  });
});
