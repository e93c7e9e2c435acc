import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { problems } from '../../../src/core/problems.ts';
import {
  echoHandler,
  httpRequest,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';

const ISSUER = 'https://as.example.test';
const METADATA_URL = 'https://gw.example.test/.well-known/oauth-protected-resource/api';

describe('RFC 9728 protected resource metadata through the whole gateway', () => {
  let upstream: TestServer;
  let gw: TestGateway;
  let signer: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwk: JWK;

  const jwtBinding = () => ({
    issuers: [
      {
        issuer: ISSUER,
        keys: [jwk as Record<string, unknown>],
        audiences: ['orders'],
        algorithms: ['ES256'],
      },
    ],
  });

  before(async () => {
    signer = await generateKeyPair('ES256', { extractable: true });
    jwk = { ...(await exportJWK(signer.publicKey)), kid: 'k', alg: 'ES256' };
    upstream = await startServer(echoHandler);
    const oauth = {
      type: 'oauth2',
      flows: {
        clientCredentials: {
          tokenUrl: `${ISSUER}/token`,
          scopes: { 'orders:read': 'read', 'orders:write': 'write', unused: 'never required' },
        },
      },
    };
    const orders = openapi(
      {
        '/orders': {
          get: op('listOrders', { security: [{ oauth: ['orders:read'] }] }),
          post: op('createOrder', { security: [{ oauth: ['orders:write', 'orders:read'] }] }),
        },
        '/status': { get: op('status', { security: [] }) },
      },
      { components: { securitySchemes: { oauth } } },
    );
    const plain = openapi(
      { '/things': { get: op('listThings', { security: [{ bearer: [] }] }) } },
      { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } },
    );
    gw = await startGateway({
      specs: { 'orders.yaml': orders, 'plain.yaml': plain },
      config: {
        apis: [
          {
            name: 'orders',
            spec: 'orders.yaml',
            basePath: '/api',
            upstream: { url: upstream.url },
            policies: {
              authenticate: {
                resourceMetadata: {
                  resource: 'https://gw.example.test/api',
                  resourceName: 'Orders API',
                  resourceDocumentation: 'https://docs.example.test/orders',
                },
                schemes: { oauth: { jwt: jwtBinding(), dpop: { algorithms: ['ES256', 'EdDSA'] } } },
              },
            },
          },
          {
            name: 'tenant',
            spec: 'orders.yaml',
            hosts: ['tenant.example.test'],
            upstream: { url: upstream.url },
            policies: {
              authenticate: {
                resourceMetadata: {
                  resource: 'https://tenant.example.test/',
                  authorizationServers: ['https://login.tenant.example.test'],
                  scopesSupported: ['orders:read'],
                  bearerMethodsSupported: [],
                  tlsClientCertificateBoundAccessTokens: true,
                  cacheMaxAgeSeconds: 60,
                },
                schemes: { oauth: { jwt: jwtBinding(), dpop: { required: true } } },
              },
            },
          },
          {
            name: 'plain',
            spec: 'plain.yaml',
            basePath: '/plain',
            upstream: { url: upstream.url },
            policies: { authenticate: { schemes: { bearer: { jwt: jwtBinding() } } } },
          },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const get = (path: string, opts: { method?: string; headers?: Record<string, string> } = {}) =>
    httpRequest(gw.url, { path, ...opts });

  test('serves the metadata of an API at the well-known path derived from its resource, with defaults from config and spec', async () => {
    const r = await get('/.well-known/oauth-protected-resource/api');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['cache-control'], 'public, max-age=3600');
    assert.deepEqual(JSON.parse(r.body), {
      resource: 'https://gw.example.test/api',
      authorization_servers: [ISSUER],
      // Every scope the security requirements name, not the scheme's whole scope list.
      scopes_supported: ['orders:read', 'orders:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Orders API',
      resource_documentation: 'https://docs.example.test/orders',
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
    });
  });

  test('answers HEAD with the same headers and no body', async () => {
    const r = await get('/.well-known/oauth-protected-resource/api', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.equal(r.headers['content-type'], 'application/json');
    const full = await get('/.well-known/oauth-protected-resource/api');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(full.body)));
  });

  test('does not answer a POST to the well-known path as metadata', async () => {
    const r = await get('/.well-known/oauth-protected-resource/api', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD');
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(r.body) as { type: string }).type, problems.methodNotAllowed.type);
  });

  test('answers only the exact path: neighbours and APIs without metadata stay undeclared', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/api/',
      '/.well-known/oauth-protected-resource/api/orders',
      '/.well-known/oauth-protected-resource/plain',
      '/.well-known/oauth-protected-resourceapi',
      '/api/.well-known/oauth-protected-resource',
    ]) {
      assert.equal((await get(path)).status, 404, path);
    }
  });

  test("serves a host-bound API's metadata on its host only, with the configured values", async () => {
    const r = await get('/.well-known/oauth-protected-resource', {
      headers: { host: 'tenant.example.test' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'public, max-age=60');
    assert.deepEqual(JSON.parse(r.body), {
      resource: 'https://tenant.example.test/',
      authorization_servers: ['https://login.tenant.example.test'],
      scopes_supported: ['orders:read'],
      bearer_methods_supported: [],
      tls_client_certificate_bound_access_tokens: true,
      dpop_signing_alg_values_supported: ['ES256', 'PS256', 'RS256', 'EdDSA'],
      dpop_bound_access_tokens_required: true,
    });
    const elsewhere = await get('/.well-known/oauth-protected-resource', {
      headers: { host: 'other.example.test' },
    });
    // The host-less APIs answer other hosts: this path is not one of theirs.
    assert.equal(elsewhere.status, 404);
  });

  test('names the metadata in the Bearer and DPoP challenges of a 401 without credentials', async () => {
    const r = await get('/api/orders');
    assert.equal(r.status, 401);
    assert.deepEqual(r.headers['www-authenticate']?.split(/, (?=Bearer|DPoP)/), [
      `Bearer realm="orders", resource_metadata="${METADATA_URL}"`,
      `DPoP algs="ES256 EdDSA", resource_metadata="${METADATA_URL}"`,
    ]);
  });

  test('names the metadata in the challenges of a 401 for an invalid bearer token', async () => {
    const r = await get('/api/orders', { headers: { authorization: 'Bearer not-a-jwt' } });
    assert.equal(r.status, 401);
    const challenge = String(r.headers['www-authenticate']);
    assert.match(
      challenge,
      /^Bearer realm="orders", error="invalid_token", error_description="[^"]*", resource_metadata="([^"]+)"/,
    );
    assert.equal(/resource_metadata="([^"]+)"/.exec(challenge)?.[1], METADATA_URL);
  });

  test('names the metadata in the DPoP challenge of a 401 for a missing DPoP proof', async () => {
    const holder = await generateKeyPair('ES256');
    const jkt = await calculateJwkThumbprint(await exportJWK(holder.publicKey));
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: ISSUER,
      aud: 'orders',
      sub: 'alice',
      scope: 'orders:read',
      exp: now + 60,
      cnf: { jkt },
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .sign(signer.privateKey);
    const r = await get('/api/orders', { headers: { authorization: `DPoP ${token}` } });
    assert.equal(r.status, 401);
    assert.equal(
      String(r.headers['www-authenticate']).split(/, (?=Bearer)/)[0],
      `DPoP algs="ES256 EdDSA", error="invalid_dpop_proof", error_description="DPoP proof required", resource_metadata="${METADATA_URL}"`,
    );
  });

  test('sends no resource_metadata for an API without metadata', async () => {
    const r = await get('/plain/things');
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="plain"');
  });

  test('refuses to load metadata whose resource is not https or not on one of the API hosts', async () => {
    const api = (resourceMetadata: object, extra: object = {}) => ({
      apis: [
        {
          name: 'orders',
          spec: 'orders.yaml',
          upstream: { url: upstream.url },
          ...extra,
          policies: { authenticate: { resourceMetadata, schemes: { oauth: { jwt: jwtBinding() } } } },
        },
      ],
    });
    await assert.rejects(
      async () => gw.reload(api({ resource: 'http://gw.example.test/api' })),
      /resourceMetadata\.resource/,
    );
    await assert.rejects(
      async () =>
        gw.reload(api({ resource: 'https://gw.example.test/api' }, { hosts: ['api.example.test'] })),
      /resource host gw\.example\.test is not one of the API's hosts/,
    );
    // The failed reloads left the running config alone.
    assert.equal((await get('/.well-known/oauth-protected-resource/api')).status, 200);
  });
});
