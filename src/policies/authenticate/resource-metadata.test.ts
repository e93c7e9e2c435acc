import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { specOf } from '../../../test/kit/policy.ts';
import type { ApiConfig } from '../../core/config.ts';
import { PolicyConfigError } from '../../core/policy.ts';
import {
  metadataLocation,
  protectedResourceMetadata,
  resourceMetadataDocuments,
  specScopes,
} from './resource-metadata.ts';

const spec = specOf({
  securitySchemes: {
    oauth: { type: 'oauth2', flows: {} },
    oidc: { type: 'openIdConnect', openIdConnectUrl: 'https://as.test/.well-known/openid-configuration' },
    bearer: { type: 'http', scheme: 'Bearer' },
    key: { type: 'apiKey', in: 'header', name: 'X-Key' },
  },
  security: [{ bearer: ['root:read'] }],
  paths: {
    '/a': { get: { operationId: 'a', security: [{ oauth: ['a:read'] }, { key: ['admin'] }], responses: {} } },
    '/b': { post: { operationId: 'b', security: [{ oidc: ['b:write', 'a:read'], key: [] }], responses: {} } },
    '/c': { get: { operationId: 'c', responses: {} } },
    '/d': { get: { operationId: 'd', security: [], responses: {} } },
  },
});

const apiConfig = (extra: Partial<ApiConfig> = {}): ApiConfig =>
  ({
    name: 'api',
    spec: 'x',
    basePath: '',
    hosts: [],
    undeclared: 'deny',
    operations: {},
    ...extra,
  }) as ApiConfig;

describe('RFC 9728 protected resource metadata', () => {
  test('places the metadata between the host and the path of the resource (§3.1)', () => {
    assert.deepEqual(metadataLocation('https://api.example.com/orders'), {
      url: 'https://api.example.com/.well-known/oauth-protected-resource/orders',
      path: '/.well-known/oauth-protected-resource/orders',
      host: 'api.example.com',
    });
    assert.equal(
      metadataLocation('https://API.example.com:8443/').url,
      'https://api.example.com:8443/.well-known/oauth-protected-resource',
    );
    assert.equal(metadataLocation('https://api.example.com').path, '/.well-known/oauth-protected-resource');
    assert.equal(
      metadataLocation('https://api.example.com/v1/orders').path,
      '/.well-known/oauth-protected-resource/v1/orders',
    );
  });

  test('refuses resource identifiers that are not https, carry a query, a fragment or credentials', () => {
    for (const r of [
      'http://api.example.com/x',
      'https://api.example.com/x?tenant=1',
      'https://api.example.com/x#y',
      'https://u:p@api.example.com/x',
      'not a url',
    ]) {
      assert.throws(() => metadataLocation(r), PolicyConfigError, r);
    }
  });

  test('collects the scopes of token schemes from every effective requirement, not roles of API keys', () => {
    assert.deepEqual(specScopes(spec), ['a:read', 'b:write', 'root:read']);
  });

  test('derives authorization servers, DPoP and certificate binding from the scheme bindings', () => {
    const doc = protectedResourceMetadata(
      { resource: 'https://api.example.com/' },
      {
        schemes: {
          oauth: {
            jwt: {
              issuers: [
                { issuer: 'https://as.test', audiences: ['x'] },
                { issuer: 'internal-tests', audiences: ['x'] }, // not a URL: not an authorization server
              ],
            },
            dpop: { required: true, algorithms: ['EdDSA'] },
            certificateBound: true,
          },
          bearer: {
            introspection: {
              endpoint: 'https://as2.test/i',
              clientId: 'c',
              clientSecret: 's',
              issuer: 'https://as2.test',
            },
          },
        },
      },
      spec,
    );
    assert.deepEqual(doc, {
      resource: 'https://api.example.com/',
      authorization_servers: ['https://as.test', 'https://as2.test'],
      scopes_supported: ['a:read', 'b:write', 'root:read'],
      bearer_methods_supported: ['header'],
      tls_client_certificate_bound_access_tokens: true,
      dpop_signing_alg_values_supported: ['EdDSA'],
      // One token scheme accepts plain bearer tokens: DPoP is not always required.
    });
  });

  test('publishes nothing without resourceMetadata, and refuses it per operation', () => {
    assert.deepEqual(resourceMetadataDocuments({ schemes: {} }, apiConfig(), spec), []);
    assert.deepEqual(resourceMetadataDocuments(undefined, apiConfig(), spec), []);
    const perOperation = apiConfig({
      operations: {
        a: { policies: { authenticate: { resourceMetadata: { resource: 'https://x.test/' } } } },
      },
    } as unknown as Partial<ApiConfig>);
    assert.throws(
      () => resourceMetadataDocuments({ schemes: {} }, perOperation, spec),
      (e: PolicyConfigError) =>
        e.path === 'resourceMetadata' && /operation a sets resourceMetadata/.test(e.message),
    );
  });

  test('publishes one JSON document at the derived path, with the configured cache lifetime', () => {
    const [doc] = resourceMetadataDocuments(
      { schemes: {}, resourceMetadata: { resource: 'https://api.example.com/v1', cacheMaxAgeSeconds: 120 } },
      apiConfig({ hosts: ['API.example.com'] }),
      spec,
    );
    assert.equal(doc.path, '/.well-known/oauth-protected-resource/v1');
    assert.equal(doc.contentType, 'application/json');
    assert.equal(doc.maxAgeSeconds, 120);
    assert.equal(JSON.parse(doc.body).resource, 'https://api.example.com/v1');
  });
});
