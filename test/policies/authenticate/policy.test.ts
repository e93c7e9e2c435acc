import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { createManualClock } from '../../../src/core/clock.ts';
import { PolicyConfigError, type PolicyHandler } from '../../../src/core/policy.ts';
import { problems } from '../../../src/core/problems.ts';
import {
  createApiKey,
  createRuntimeApiKeys,
  hashApiKey,
} from '../../../src/policies/authenticate/api-key.ts';
import { authenticatePolicy, identityHeaderNames } from '../../../src/policies/authenticate/policy.ts';
import { type AuthenticateConfig, authenticateSchema } from '../../../src/policies/authenticate/schema.ts';
import { createTestContext, specOf } from '../../kit/policy.ts';
import { type PassedBody, type PolicyServer, servePolicies } from '../../kit/policy-server.ts';

const ISS = 'https://issuer.test';
const AUD = 'https://api.test';

const spec = specOf({
  securitySchemes: {
    oauth: {
      type: 'oauth2',
      flows: {
        clientCredentials: { tokenUrl: 'https://issuer.test/token', scopes: { read: 'r', write: 'w' } },
      },
    },
    apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    queryKey: { type: 'apiKey', in: 'query', name: 'api_key' },
    cookieKey: { type: 'apiKey', in: 'cookie', name: 'session_key' },
  },
  paths: {
    '/read': {
      get: { operationId: 'readThings', security: [{ oauth: ['read'] }, { apiKeyAuth: [] }], responses: {} },
    },
    '/write': {
      post: { operationId: 'writeThings', security: [{ oauth: ['write'], apiKeyAuth: [] }], responses: {} },
    },
    '/maybe': { get: { operationId: 'maybeRead', security: [{}, { oauth: ['read'] }], responses: {} } },
    '/none': { get: { operationId: 'noneDeclared', security: [], responses: {} } },
    '/undeclared': { get: { operationId: 'undeclared', responses: {} } },
    '/query': { get: { operationId: 'byQuery', security: [{ queryKey: [] }], responses: {} } },
    '/cookie': { get: { operationId: 'byCookie', security: [{ cookieKey: [] }], responses: {} } },
    '/admin': { get: { operationId: 'adminOnly', security: [{ apiKeyAuth: ['admin'] }], responses: {} } },
  },
});

describe('authenticate policy', () => {
  let pair: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwk: JWK;
  const keyAlice1 = createApiKey();
  const keyAlice2 = createApiKey();
  const keyAdmin = createApiKey();
  let config: AuthenticateConfig;
  let server: PolicyServer;
  let t: ReturnType<typeof createTestContext>;

  function token(extra: JWTPayload = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: ISS,
      aud: AUD,
      sub: 'alice',
      iat: now,
      exp: now + 300,
      scope: 'read',
      ...extra,
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(pair.privateKey);
  }

  function configWith(keys: string[]): AuthenticateConfig {
    const consumers = [
      { name: 'alice-app', roles: ['user'], keys },
      { name: 'ops', roles: ['admin'], keys: [keyAdmin.hash] },
    ];
    return {
      mode: 'enforce',
      schemes: {
        oauth: {
          jwt: {
            issuers: [
              {
                issuer: ISS,
                keys: [jwk as Record<string, unknown>],
                audiences: [AUD],
                algorithms: ['ES256'],
              },
            ],
          },
        },
        apiKeyAuth: { apiKey: { consumers } },
        queryKey: { apiKey: { consumers } },
        cookieKey: { apiKey: { consumers } },
      },
      public: ['undeclared'],
      forwardIdentity: {
        methodHeader: 'X-Portcullis-Auth-Method',
        claimHeaders: { 'X-User-Sub-Claim': 'sub' },
      },
    };
  }

  before(async () => {
    pair = await generateKeyPair('ES256', { extractable: true });
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    config = configWith([keyAlice1.hash, keyAlice2.hash]);
    t = createTestContext(spec);
    server = await servePolicies(spec, (op) => [
      authenticatePolicy.compile(config, t.ctx(op.id)) as PolicyHandler | null,
    ]);
  });
  after(() => server.close());

  async function call(path: string, headers: Record<string, string> = {}, method = 'GET') {
    const res = await fetch(server.url + path, { method, headers });
    const body = (await res.json()) as Record<string, unknown>;
    return { status: res.status, headers: res.headers, body };
  }

  test('refuses at load an operation with no declared security unless it is listed as public', () => {
    const strict = { ...config, public: [] };
    assert.throws(
      () => authenticatePolicy.compile(strict, t.ctx('undeclared')),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'public' && /undeclared/.test(e.message),
    );
    assert.notEqual(
      authenticatePolicy.compile({ ...strict, allowUndeclaredSecurity: true }, t.ctx('undeclared')),
      null,
    );
  });

  test('refuses at load a scheme with no verifier bound, or a verifier of the wrong type', () => {
    const { apiKeyAuth: _, ...rest } = config.schemes;
    assert.throws(
      () => authenticatePolicy.compile({ ...config, schemes: rest }, t.ctx('readThings')),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'schemes.apiKeyAuth',
    );
    const wrong = { ...config, schemes: { ...config.schemes, apiKeyAuth: config.schemes.oauth } };
    assert.throws(
      () => authenticatePolicy.compile(wrong, t.ctx('readThings')),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'schemes.apiKeyAuth',
    );
  });

  test('refuses at load a binding for a scheme the spec lacks and a public operation it lacks', () => {
    const typo = { ...config, schemes: { ...config.schemes, oauht: config.schemes.oauth } };
    assert.throws(
      () => authenticatePolicy.compile(typo, t.ctx('readThings')),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'schemes.oauht',
    );
    assert.throws(
      () => authenticatePolicy.compile({ ...config, public: ['undeclared', 'nope'] }, t.ctx('readThings')),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'public[1]',
    );
  });

  test('answers 401 with a bare Bearer challenge when no credentials are sent', async () => {
    t.events.length = 0;
    const r = await call('/read');
    assert.equal(r.status, 401);
    assert.equal(r.body.type, problems.unauthorized.type);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="test-api"');
    assert.equal(t.events.at(-1)?.['event.reason'], 'missing_credentials');
  });

  test('answers 401 invalid_token for a bad token and never puts the token in the event', async () => {
    t.events.length = 0;
    const bad = await token({ aud: 'https://elsewhere.test' });
    const r = await call('/read', { authorization: `Bearer ${bad}` });
    assert.equal(r.status, 401);
    assert.equal(r.body.type, problems.invalidToken.type);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="test-api", error="invalid_token"/);
    const event = t.events.at(-1)!;
    assert.equal(event['event.reason'], 'wrong_audience');
    assert.equal(event['portcullis.scheme'], 'oauth');
    assert.match(String(event['portcullis.credential.hash']), /^[0-9a-f]{32}$/);
    assert.equal(event['portcullis.operation_id'], 'readThings');
    assert.equal(JSON.stringify(t.events).includes(bad.split('.')[2]), false);
  });

  test('treats other Authorization schemes as no credentials and an empty Bearer as invalid', async () => {
    const basic = await call('/read', { authorization: 'Basic YWxpY2U6c2VjcmV0' });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get('www-authenticate'), 'Bearer realm="test-api"');
    const empty = await call('/read', { authorization: 'Bearer ' });
    assert.equal(empty.status, 401);
    assert.match(empty.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const lower = await call('/read', { authorization: `bearer ${await token()}` });
    assert.equal(lower.status, 200, 'the scheme name is case-insensitive');
  });

  test('answers 403 insufficient_scope naming the scope when the token lacks it', async () => {
    t.events.length = 0;
    const r = await call('/read', { authorization: `Bearer ${await token({ scope: 'write' })}` });
    assert.equal(r.status, 403);
    assert.equal(r.body.type, problems.insufficientScope.type);
    assert.equal(r.body.scope, 'read');
    assert.equal(
      r.headers.get('www-authenticate'),
      'Bearer realm="test-api", error="insufficient_scope", scope="read"',
    );
    assert.equal(t.events.at(-1)?.['event.reason'], 'insufficient_scope');
  });

  test('lets either alternative of an OR satisfy the operation', async () => {
    const byToken = await call('/read', { authorization: `Bearer ${await token()}` });
    assert.equal(byToken.status, 200);
    assert.deepEqual((byToken.body as unknown as PassedBody).principal.schemes, ['oauth']);
    const byKey = await call('/read', { 'x-api-key': keyAlice1.key });
    assert.equal(byKey.status, 200);
    assert.equal((byKey.body as unknown as PassedBody).principal.consumer, 'alice-app');
  });

  test('requires every scheme of an AND requirement', async () => {
    const tok = await token({ scope: 'write' });
    const onlyToken = await call('/write', { authorization: `Bearer ${tok}` }, 'POST');
    assert.equal(onlyToken.status, 401);
    const both = await call('/write', { authorization: `Bearer ${tok}`, 'x-api-key': keyAlice1.key }, 'POST');
    assert.equal(both.status, 200);
    const p = (both.body as unknown as PassedBody).principal;
    assert.deepEqual([p.subject, p.consumer, p.schemes], ['alice', 'alice-app', ['oauth', 'apiKeyAuth']]);
    assert.deepEqual(new Set(p.roles), new Set(['user']));
  });

  test('admits anonymous callers where {} is an alternative but still refuses a bad token there', async () => {
    const anon = await call('/maybe');
    assert.equal(anon.status, 200);
    assert.equal((anon.body as unknown as PassedBody).principal.method, 'anonymous');
    const authed = await call('/maybe', { authorization: `Bearer ${await token()}` });
    assert.equal((authed.body as unknown as PassedBody).principal.subject, 'alice');
    const bad = await call('/maybe', { authorization: 'Bearer abc.def.ghi' });
    assert.equal(bad.status, 401);
  });

  test('lets through operations declaring security: [] and public undeclared ones as anonymous', async () => {
    for (const path of ['/none', '/undeclared']) {
      const r = await call(path);
      assert.equal(r.status, 200, path);
      assert.equal((r.body as unknown as PassedBody).principal.method, 'anonymous');
    }
  });

  test('reads API keys from the query and from a cookie as the scheme says', async () => {
    assert.equal((await call(`/query?api_key=${encodeURIComponent(keyAlice1.key)}`)).status, 200);
    assert.equal((await call('/query', { 'x-api-key': keyAlice1.key })).status, 401);
    assert.equal((await call('/cookie', { cookie: `a=b; session_key=${keyAlice2.key}` })).status, 200);
  });

  test('accepts both live keys of a consumer and refuses a key once rotated out', async () => {
    assert.equal((await call('/read', { 'x-api-key': keyAlice1.key })).status, 200);
    assert.equal((await call('/read', { 'x-api-key': keyAlice2.key })).status, 200);
    const rotated = configWith([keyAlice2.hash]);
    const t2 = createTestContext(spec);
    const h = authenticatePolicy.compile(rotated, t2.ctx('readThings'));
    const s2 = await servePolicies(spec, (op) => (op.id === 'readThings' ? [h as PolicyHandler | null] : []));
    try {
      const old = await fetch(`${s2.url}/read`, { headers: { 'x-api-key': keyAlice1.key } });
      assert.equal(old.status, 401);
      assert.equal(t2.events.at(-1)?.['event.reason'], 'unknown_api_key');
      const current = await fetch(`${s2.url}/read`, { headers: { 'x-api-key': keyAlice2.key } });
      assert.equal(current.status, 200);
    } finally {
      await s2.close();
    }
  });

  test('accepts keys registered at runtime in the state store and refuses them once revoked', async () => {
    const cfg = configWith([keyAlice1.hash]);
    cfg.schemes.apiKeyAuth = { apiKey: { consumers: [], runtimeKeys: true } };
    const t2 = createTestContext(spec, { clock: createManualClock() });
    const h = authenticatePolicy.compile(cfg, t2.ctx('readThings')) as PolicyHandler;
    const s2 = await servePolicies(spec, (op) => (op.id === 'readThings' ? [h] : []));
    const keys = createRuntimeApiKeys(t2.store, 'test-api');
    const partner = createApiKey();
    try {
      const before = await fetch(`${s2.url}/read`, { headers: { 'x-api-key': partner.key } });
      assert.equal(before.status, 401);
      await keys.register({ name: 'partner-a', roles: ['partner'] }, partner.hash, 3600);
      const ok = await fetch(`${s2.url}/read`, { headers: { 'x-api-key': partner.key } });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as PassedBody).principal.consumer, 'partner-a');
      assert.deepEqual(await keys.list(), [
        { consumer: 'partner-a', hashPrefix: partner.hash.slice(7, 15), ttlMs: 3_600_000 },
      ]);
      await keys.revoke(partner.hash);
      assert.equal((await fetch(`${s2.url}/read`, { headers: { 'x-api-key': partner.key } })).status, 401);
    } finally {
      await s2.close();
    }
  });

  test('enforces role lists on non-OAuth schemes with 403', async () => {
    assert.equal((await call('/admin', { 'x-api-key': keyAdmin.key })).status, 200);
    const r = await call('/admin', { 'x-api-key': keyAlice1.key });
    assert.equal(r.status, 403);
    assert.equal(r.body.type, problems.forbidden.type);
  });

  test('forwards identity upstream and strips forged identity headers from the request', async () => {
    const r = await call('/read', {
      authorization: `Bearer ${await token({ scope: 'read write' })}`,
      'x-portcullis-subject': 'admin',
      'x-user-sub-claim': 'forged',
    });
    const body = r.body as unknown as PassedBody;
    assert.equal(body.upstreamHeaders['x-portcullis-subject'], 'alice');
    assert.equal(body.upstreamHeaders['x-portcullis-scopes'], 'read write');
    assert.equal(body.upstreamHeaders['x-portcullis-auth-method'], 'jwt');
    assert.equal(body.upstreamHeaders['x-user-sub-claim'], 'alice');
    const anon = await call('/none', { 'x-portcullis-subject': 'admin' });
    const anonBody = anon.body as unknown as PassedBody;
    assert.equal(anonBody.incomingHeaders['x-portcullis-subject'], undefined);
    assert.equal(anonBody.upstreamHeaders['x-portcullis-subject'], undefined);
    assert.deepEqual(identityHeaderNames(config), [
      'x-portcullis-subject',
      'x-portcullis-consumer',
      'x-portcullis-scopes',
      'x-portcullis-roles',
      'x-portcullis-auth-method',
      'x-user-sub-claim',
    ]);
  });
});

describe('API key creation', () => {
  test('creates a random key whose hash is the config form', () => {
    const a = createApiKey();
    const b = createApiKey();
    assert.match(a.key, /^pck_[A-Za-z0-9_-]{43}$/);
    assert.match(a.hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(hashApiKey(a.key), a.hash);
    assert.notEqual(a.key, b.key);
  });
});

describe('authenticate config schema', () => {
  const ajv = new Ajv({ strict: false, useDefaults: true });
  const validate = ajv.compile({
    ...authenticateSchema,
    properties: { ...(authenticateSchema.properties as object), mode: {} },
  });

  test('accepts a full config and fills defaults', () => {
    const cfg: Record<string, unknown> = {
      schemes: {
        bearerAuth: {
          jwt: { issuers: [{ issuer: ISS, discovery: true, audiences: [AUD] }] },
          dpop: { required: false },
        },
        apiKeyAuth: { apiKey: { consumers: [{ name: 'a', keys: [createApiKey().hash] }] } },
      },
      public: ['health'],
    };
    assert.equal(validate(cfg), true, JSON.stringify(validate.errors));
    const issuer = (cfg.schemes as Record<string, { jwt: { issuers: Array<Record<string, unknown>> } }>)
      .bearerAuth.jwt.issuers[0];
    assert.deepEqual(issuer.algorithms, ['RS256']);
    assert.equal(issuer.clockSkewSeconds, 30);
  });

  test('rejects unknown keys, plain-text API keys and the none algorithm', () => {
    assert.equal(validate({ schemes: {}, extra: 1 }), false);
    assert.equal(
      validate({ schemes: { k: { apiKey: { consumers: [{ name: 'a', keys: ['secret'] }] } } } }),
      false,
    );
    const none = {
      schemes: { b: { jwt: { issuers: [{ issuer: ISS, audiences: [AUD], algorithms: ['none'] }] } } },
    };
    assert.equal(validate(none), false);
  });

  test('schema describes every property', () => {
    const missing: string[] = [];
    const walk = (s: unknown, path: string) => {
      if (s === null || typeof s !== 'object') return;
      const o = s as Record<string, unknown>;
      if (o.properties !== undefined) {
        for (const [k, v] of Object.entries(o.properties as Record<string, Record<string, unknown>>)) {
          if (typeof v.description !== 'string') missing.push(`${path}.${k}`);
          walk(v, `${path}.${k}`);
        }
      }
      if (o.items !== undefined) walk(o.items, `${path}[]`);
      if (typeof o.additionalProperties === 'object') walk(o.additionalProperties, `${path}.*`);
    };
    walk(authenticateSchema, 'authenticate');
    assert.deepEqual(missing, []);
  });
});
