import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDACTED, redactConfig } from './redact.ts';

test('replaces values under secret-named keys at any depth, whatever their type', () => {
  // biome-ignore lint/suspicious/noExplicitAny: the assertions below read the copy field by field
  const out: any = redactConfig({
    admin: { token: 'tok-123', port: 9090 },
    apis: [
      {
        upstream: { headers: { Authorization: 'Bearer abc', 'x-trace': 'keep' } },
        policies: {
          authenticate: {
            schemes: {
              jwtAuth: { jwt: { issuers: [{ secrets: ['hs-secret'], audiences: ['shop'] }] } },
              keyAuth: { apiKey: { consumers: [{ name: 'alice', keys: ['sha256:ab'] }] } },
            },
          },
          introspection: { clientSecret: 's3cr3t', clientId: 'gw' },
          dpop: { nonceSecret: 'n', maxTokens: 5 },
          signing: { keys: [{ kty: 'EC', crv: 'P-256', x: 'pub-x', y: 'pub-y', d: 'private-d' }] },
          oauth: { privateKey: { kty: 'RSA', n: 'pub' } },
        },
      },
    ],
  });
  assert.equal(out.admin.token, REDACTED);
  assert.equal(out.admin.port, 9090);
  const api = out.apis[0];
  assert.equal(api.upstream.headers.Authorization, REDACTED);
  assert.equal(api.upstream.headers['x-trace'], 'keep');
  assert.equal(api.policies.authenticate.schemes.jwtAuth.jwt.issuers[0].secrets, REDACTED);
  assert.deepEqual(api.policies.authenticate.schemes.jwtAuth.jwt.issuers[0].audiences, ['shop']);
  assert.equal(api.policies.authenticate.schemes.keyAuth.apiKey.consumers[0].keys, REDACTED);
  assert.equal(api.policies.authenticate.schemes.keyAuth.apiKey.consumers[0].name, 'alice');
  assert.equal(api.policies.introspection.clientSecret, REDACTED);
  assert.equal(api.policies.introspection.clientId, 'gw');
  assert.equal(api.policies.dpop.nonceSecret, REDACTED);
  assert.equal(api.policies.dpop.maxTokens, 5);
  assert.deepEqual(api.policies.signing.keys[0], {
    kty: 'EC',
    crv: 'P-256',
    x: 'pub-x',
    y: 'pub-y',
    d: REDACTED,
  });
  assert.equal(api.policies.oauth.privateKey, REDACTED);
});

test('hides the password of a connection URL and keeps the rest of it', () => {
  const out = redactConfig({
    state: { redis: { url: 'redis://app:hunter2@10.0.0.5:6379/0', keyPrefix: 'pc:' } },
  });
  assert.deepEqual(out, {
    state: { redis: { url: 'redis://app:redacted@10.0.0.5:6379/0', keyPrefix: 'pc:' } },
  });
});

test('leaves a config without secrets unchanged and does not modify its input', () => {
  const input = { server: { listen: [{ host: '0.0.0.0', port: 8080 }] }, logging: { level: 'info' } };
  const copy = structuredClone(input);
  assert.deepEqual(redactConfig(input), copy);
  assert.deepEqual(input, copy);
});

test('keeps a rate-limit key name (a setting, not a secret) while redacting key lists', () => {
  const out = redactConfig({
    limits: [{ name: 'per-ip', key: 'ip' }],
    consumers: [{ name: 'a', keys: ['sha256:ab'], passwordHashes: ['scrypt$32768$8$3$salt$key'] }],
  }) as {
    limits: Array<{ key: string }>;
    consumers: Array<{ keys: unknown; passwordHashes: unknown }>;
  };
  assert.equal(out.limits[0].key, 'ip');
  assert.equal(out.consumers[0].keys, REDACTED);
  assert.equal(out.consumers[0].passwordHashes, REDACTED, 'scrypt hashes can be attacked offline');
});
