/**
 * Token introspection with `private_key_jwt` client authentication (RFC 7523 §2.2) against a real
 * oidc-provider whose gateway clients are registered with `token_endpoint_auth_method: private_key_jwt`.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { systemClock } from '../../../src/core/clock.ts';
import { problems } from '../../../src/core/problems.ts';
import { type DemoIdp, demoSecret, OPAQUE_RESOURCE, startDemoIdp } from '../../../src/demo/idp.ts';
import { createIntrospector } from '../../../src/policies/authenticate/introspection.ts';
import type { PrivateKeyJwtConfig } from '../../../src/policies/authenticate/schema.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';

type Alg = PrivateKeyJwtConfig['alg'];
const pair = (alg: Alg) =>
  alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }) as string;

/** One registered client per algorithm, each with its own key pair. */
const CLIENTS = (['RS256', 'PS256', 'ES256', 'EdDSA'] as const).map((alg) => ({
  alg,
  clientId: `gateway-${alg.toLowerCase()}`,
  kid: `${alg.toLowerCase()}-1`,
  keys: pair(alg),
}));
const client = (alg: Alg) => CLIENTS.find((c) => c.alg === alg)!;

const spec = openapi(
  { '/opaque': { get: op('readOpaque', { security: [{ opaque: [] }] }) } },
  {
    components: {
      securitySchemes: {
        opaque: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'http://as/token', scopes: {} } } },
      },
    },
  },
);

describe('introspection with private_key_jwt against a real oidc-provider', () => {
  let idp: DemoIdp;
  let upstream: TestServer;
  let gw: TestGateway;
  let lastUpstream: Record<string, unknown> = {};
  const rogue = pair('RS256');

  before(async () => {
    idp = await startDemoIdp({
      port: 0,
      introspectionClients: CLIENTS.map((c) => ({
        client_id: c.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...c.keys.publicKey.export({ format: 'jwk' }), kid: c.kid, use: 'sig' }] },
      })),
    });
    upstream = await startServer((req, res) => {
      lastUpstream = req.headers;
      echoHandler(req, res);
    });
    const rs = client('RS256');
    const es = client('ES256');
    const introspection = (extra: Record<string, unknown>) => ({
      endpoint: idp.introspectionEndpoint,
      authMethod: 'private_key_jwt',
      audiences: [OPAQUE_RESOURCE],
      cacheSeconds: 0,
      negativeCacheSeconds: 0,
      ...extra,
    });
    const api = (name: string, basePath: string, extra: Record<string, unknown>) => ({
      name,
      basePath,
      spec: 'api.yaml',
      upstream: { url: upstream.url },
      policies: { authenticate: { schemes: { opaque: { introspection: introspection(extra) } } } },
    });
    gw = await startGateway({
      specs: {
        'api.yaml': spec,
        'gateway-rs256.pem': pem(rs.keys.privateKey),
        'rogue.pem': pem(rogue.privateKey),
      },
      config: {
        apis: [
          // The key file is named relative to the config file.
          api('rs', '', {
            clientId: rs.clientId,
            privateKeyJwt: { keyFile: 'gateway-rs256.pem', kid: rs.kid, alg: 'RS256' },
          }),
          api('es', '/es', {
            clientId: es.clientId,
            privateKeyJwt: {
              key: { ...es.keys.privateKey.export({ format: 'jwk' }), kid: es.kid },
              alg: 'ES256',
              audience: idp.issuer,
            },
          }),
          api('rogue', '/rogue', {
            clientId: rs.clientId,
            privateKeyJwt: { keyFile: 'rogue.pem', kid: rs.kid, alg: 'RS256' },
          }),
        ],
      },
    });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await idp?.close();
  });

  const get = (path: string, token: string) =>
    fetch(gw.url + path, { headers: { authorization: `Bearer ${token}` } });
  const lastReason = () => gw.events.findLast((e) => e['event.action'] === 'authenticate')?.['event.reason'];

  test('accepts an active opaque token, the gateway authenticating with an RS256 assertion from a key file', async () => {
    const token = await idp.tokenFor('bob', { resource: OPAQUE_RESOURCE });
    const res = await get('/opaque', token);
    assert.equal(res.status, 200, await res.text());
    assert.equal(lastUpstream['x-portcullis-subject'], 'bob');
    assert.equal(lastUpstream['x-portcullis-consumer'], 'bob');
  });

  test('refuses an unknown token and a revoked one as inactive', async () => {
    const unknown = await get('/opaque', 'not-a-token-the-provider-issued');
    assert.equal(unknown.status, 401);
    assert.equal(((await unknown.json()) as { type: string }).type, problems.invalidToken.type);
    assert.equal(lastReason(), 'inactive');

    const token = await idp.tokenFor('alice', { resource: OPAQUE_RESOURCE });
    assert.equal((await get('/opaque', token)).status, 200);
    const revoked = await fetch(`${idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`alice:${demoSecret('alice')}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    assert.equal(revoked.status, 200);
    assert.equal((await get('/opaque', token)).status, 401);
    assert.equal(lastReason(), 'inactive');
  });

  test('authenticates with an ES256 assertion from an inline JWK, addressed to the issuer', async () => {
    const token = await idp.tokenFor('bob', { resource: OPAQUE_RESOURCE });
    assert.equal((await get('/es/opaque', token)).status, 200);
    assert.equal((await get('/es/opaque', 'unknown-token')).status, 401);
  });

  test('answers 503 when the provider refuses an assertion signed with an unregistered key', async () => {
    const token = await idp.tokenFor('bob', { resource: OPAQUE_RESOURCE });
    const res = await get('/rogue/opaque', token);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal(((await res.json()) as { type: string }).type, problems.serviceUnavailable.type);
    assert.equal(lastReason(), 'introspection_unavailable');
  });

  for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
    test(`the provider accepts ${alg} assertions, one fresh assertion per introspection call`, async () => {
      const c = client(alg);
      const introspector = createIntrospector(
        {
          endpoint: idp.introspectionEndpoint,
          clientId: c.clientId,
          authMethod: 'private_key_jwt',
          privateKeyJwt: { key: c.keys.privateKey.export({ format: 'jwk' }), kid: c.kid, alg },
          cacheSeconds: 0,
          negativeCacheSeconds: 0,
        },
        { clock: systemClock, logger: pino({ level: 'silent' }) },
      );
      const token = await idp.tokenFor('alice', { resource: OPAQUE_RESOURCE });
      // Twice: the provider refuses a replayed jti, so each call must sign anew.
      for (let i = 0; i < 2; i++) {
        const out = await introspector.introspect(token);
        assert.equal(out.ok, true, JSON.stringify(out));
        if (out.ok) assert.equal(out.claims.client_id, 'alice');
      }
      assert.deepEqual(await introspector.introspect('nope'), {
        ok: false,
        reason: 'inactive',
        detail: 'token is not active',
      });
    });
  }
});
