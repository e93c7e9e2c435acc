import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { PolicyHandler } from '../../../src/core/policy.ts';
import { problems } from '../../../src/core/problems.ts';
import {
  type DemoIdp,
  demoSecret,
  GATEWAY_CLIENT,
  OPAQUE_RESOURCE,
  startDemoIdp,
} from '../../../src/demo/idp.ts';
import { authenticatePolicy } from '../../../src/policies/authenticate/policy.ts';
import type { AuthenticateConfig } from '../../../src/policies/authenticate/schema.ts';
import { createTestContext, specOf } from '../../kit/policy.ts';
import { type PassedBody, type PolicyServer, servePolicies } from '../../kit/policy-server.ts';

const AUDIENCE = 'http://api.portcullis.test';

describe('identity against a real oidc-provider', () => {
  let idp: DemoIdp;
  let server: PolicyServer;
  let t: ReturnType<typeof createTestContext>;
  let dpopKey: Awaited<ReturnType<typeof generateKeyPair>>;
  let dpopJwk: JWK;

  before(async () => {
    idp = await startDemoIdp({ port: 0, audience: AUDIENCE });
    const spec = specOf({
      securitySchemes: {
        oidc: { type: 'openIdConnect', openIdConnectUrl: `${idp.issuer}/.well-known/openid-configuration` },
        opaque: {
          type: 'oauth2',
          flows: {
            clientCredentials: {
              tokenUrl: idp.tokenEndpoint,
              scopes: { 'shop:read': 'r', 'shop:write': 'w' },
            },
          },
        },
      },
      paths: {
        '/accounts/{accountId}': {
          get: { operationId: 'getAccount', security: [{ oidc: ['shop:read'] }], responses: {} },
        },
        '/opaque': {
          get: { operationId: 'opaqueRead', security: [{ opaque: ['shop:read'] }], responses: {} },
        },
      },
    });
    const config: AuthenticateConfig = {
      mode: 'enforce',
      schemes: {
        oidc: {
          jwt: {
            issuers: [
              {
                issuer: idp.issuer,
                discovery: true,
                audiences: [AUDIENCE],
                typ: 'at+jwt',
                requiredClaims: ['sub', 'jti'],
              },
            ],
          },
          dpop: {},
        },
        opaque: {
          introspection: {
            endpoint: idp.introspectionEndpoint,
            clientId: GATEWAY_CLIENT.clientId,
            clientSecret: GATEWAY_CLIENT.clientSecret,
            audiences: [OPAQUE_RESOURCE],
            cacheSeconds: 0,
            negativeCacheSeconds: 0,
          },
        },
      },
    };
    t = createTestContext(spec);
    server = await servePolicies(spec, (op) => [
      authenticatePolicy.compile(config, t.ctx(op.id)) as PolicyHandler,
    ]);
    dpopKey = await generateKeyPair('ES256', { extractable: true });
    dpopJwk = await exportJWK(dpopKey.publicKey);
  });
  after(async () => {
    await server.close();
    await idp.close();
  });

  function proof(htm: string, htu: string, extra: Record<string, unknown> = {}) {
    return new SignJWT({ htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...extra })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopJwk })
      .sign(dpopKey.privateKey);
  }
  const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

  test('accepts a JWT access token from the provider found by discovery and builds the principal', async () => {
    const token = await idp.tokenFor('alice');
    const res = await fetch(`${server.url}/accounts/alice`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    const { principal } = (await res.json()) as PassedBody;
    assert.equal(principal.subject, 'alice');
    assert.equal(principal.method, 'jwt');
    assert.deepEqual(principal.roles, ['user']);
    assert.deepEqual(new Set(principal.scopes), new Set(['shop:read', 'shop:write']));
  });

  test('refuses a provider token issued for another resource with 401 wrong_audience', async () => {
    const token = await idp.tokenFor('bob', { resource: 'http://other-api.test' });
    const res = await fetch(`${server.url}/accounts/bob`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'wrong_audience');
  });

  test('refuses a provider token without the required scope with 403 insufficient_scope', async () => {
    const token = await idp.tokenFor('bob', { scope: 'shop:write' });
    const res = await fetch(`${server.url}/accounts/bob`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 403);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="shop:read"/);
  });

  test('accepts an active opaque token by introspection and refuses it once revoked', async () => {
    const token = await idp.tokenFor('bob', { resource: OPAQUE_RESOURCE });
    const ok = await fetch(`${server.url}/opaque`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    const { principal } = (await ok.json()) as PassedBody;
    assert.deepEqual(
      [principal.subject, principal.method, principal.roles],
      ['bob', 'introspection', ['user']],
    );

    const revoke = await fetch(`${idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`bob:${demoSecret('bob')}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    assert.equal(revoke.status, 200);
    const gone = await fetch(`${server.url}/opaque`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(gone.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'inactive');
  });

  test('refuses an unknown opaque token as inactive', async () => {
    const res = await fetch(`${server.url}/opaque`, {
      headers: { authorization: 'Bearer not-a-real-token-123' },
    });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'inactive');
  });

  test('accepts a DPoP-bound provider token with a fresh proof and refuses the same proof replayed', async () => {
    const token = await idp.tokenFor('alice', { dpop: await proof('POST', idp.tokenEndpoint) });
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    assert.equal(typeof payload.cnf?.jkt, 'string', 'the provider bound the token to the DPoP key');
    const url = `${server.url}/accounts/alice`;
    const p = await proof('GET', url, { ath: ath(token) });
    const ok = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: p } });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as PassedBody).principal.method, 'dpop');

    const replay = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: p } });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as { type: string }).type, problems.invalidDpopProof.type);
    assert.match(
      replay.headers.get('www-authenticate') ?? '',
      /^DPoP algs="[^"]+", error="invalid_dpop_proof"/,
    );
    assert.equal(t.events.at(-1)?.['event.reason'], 'replay');
  });

  test('refuses a DPoP proof for another URI, another method, or without ath', async () => {
    const token = await idp.tokenFor('alice', { dpop: await proof('POST', idp.tokenEndpoint) });
    const url = `${server.url}/accounts/alice`;
    const cases: Array<[Promise<string>, string]> = [
      [proof('GET', `${server.url}/accounts/bob`, { ath: ath(token) }), 'dpop_wrong_htu'],
      [proof('POST', url, { ath: ath(token) }), 'dpop_wrong_htm'],
      [proof('GET', url), 'dpop_wrong_ath'],
      [proof('GET', url, { ath: ath(token), iat: Math.floor(Date.now() / 1000) - 3600 }), 'dpop_stale'],
    ];
    for (const [p, reason] of cases) {
      const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await p } });
      assert.equal(res.status, 401, reason);
      assert.equal(t.events.at(-1)?.['event.reason'], reason);
    }
  });

  test('refuses a DPoP-bound token presented as a plain bearer token', async () => {
    const token = await idp.tokenFor('alice', { dpop: await proof('POST', idp.tokenEndpoint) });
    const res = await fetch(`${server.url}/accounts/alice`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_required');
  });

  test('refuses a proof signed by another key than the token is bound to', async () => {
    const token = await idp.tokenFor('alice', { dpop: await proof('POST', idp.tokenEndpoint) });
    const other = await generateKeyPair('ES256', { extractable: true });
    const url = `${server.url}/accounts/alice`;
    const p = await new SignJWT({
      htm: 'GET',
      htu: url,
      jti: randomUUID(),
      iat: Math.floor(Date.now() / 1000),
      ath: ath(token),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(other.publicKey) })
      .sign(other.privateKey);
    const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: p } });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_binding_mismatch');
  });
});
