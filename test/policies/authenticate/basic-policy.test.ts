import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { PolicyConfigError, type PolicyHandler } from '../../../src/core/policy.ts';
import { hashPassword } from '../../../src/policies/authenticate/password-hash.ts';
import { authenticatePolicy } from '../../../src/policies/authenticate/policy.ts';
import type { AuthenticateConfig } from '../../../src/policies/authenticate/schema.ts';
import { createTestContext, specOf } from '../../kit/policy.ts';
import { type PassedBody, type PolicyServer, servePolicies } from '../../kit/policy-server.ts';

const ISS = 'https://issuer.test';
const AUD = 'https://api.test';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const spec = specOf({
  securitySchemes: {
    bearer: { type: 'http', scheme: 'bearer' },
    basicAuth: { type: 'http', scheme: 'Basic' },
  },
  paths: {
    '/either': {
      get: { operationId: 'either', security: [{ bearer: [] }, { basicAuth: [] }], responses: {} },
    },
  },
});

/** The Basic scheme's config: one consumer, `ops`, whose password is `ops password`. */
async function opsBasic(more: { allowPlainHttp?: boolean }) {
  return {
    basic: {
      ...more,
      consumers: [
        { name: 'ops', passwordHashes: [await hashPassword('ops password', { N: 2 ** 14, r: 8, p: 1 })] },
      ],
    },
  };
}

describe('authenticate policy with HTTP Basic beside Bearer', () => {
  let server: PolicyServer;
  let t: ReturnType<typeof createTestContext>;
  let config: AuthenticateConfig;
  let bearerToken: string;

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    const now = Math.floor(Date.now() / 1000);
    bearerToken = await new SignJWT({ iss: ISS, aud: AUD, sub: 'svc', iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(pair.privateKey);
    config = {
      mode: 'enforce',
      realm: 'shop',
      schemes: {
        bearer: {
          jwt: { issuers: [{ issuer: ISS, keys: [jwk], audiences: [AUD], algorithms: ['ES256'] }] },
        },
        basicAuth: await opsBasic({ allowPlainHttp: true }),
      },
    };
    t = createTestContext(spec);
    server = await servePolicies(spec, (op) => [
      authenticatePolicy.compile(config, t.ctx(op.id)) as PolicyHandler,
    ]);
  });
  after(() => server.close());

  const call = (headers: Record<string, string> = {}) => fetch(`${server.url}/either`, { headers });

  test('offers both the Bearer and the Basic challenge when no credentials are sent', async () => {
    const res = await call();
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      'Bearer realm="shop", Basic realm="shop", charset="UTF-8"',
    );
  });

  test('accepts either alternative and names the method', async () => {
    const viaBasic = await call({ authorization: basic('ops', 'ops password') });
    assert.equal(viaBasic.status, 200);
    const b = (await viaBasic.json()) as PassedBody;
    assert.deepEqual(
      [b.principal.subject, b.principal.method, b.principal.schemes],
      ['ops', 'basic', ['basicAuth']],
    );
    const viaBearer = await call({ authorization: `Bearer ${bearerToken}` });
    assert.equal(viaBearer.status, 200);
    assert.equal(((await viaBearer.json()) as PassedBody).principal.method, 'jwt');
  });

  test('re-sends the plain Basic challenge (RFC 7617 has no error parameter) for refused Basic credentials', async () => {
    const res = await call({ authorization: basic('ops', 'wrong') });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      'Bearer realm="shop", Basic realm="shop", charset="UTF-8"',
    );
    const event = t.events.at(-1)!;
    assert.deepEqual(
      [event['event.reason'], event['user.name'], event['portcullis.credential.hash']],
      ['bad_credentials', 'ops', undefined],
    );
  });

  test('refuses a Basic binding on a scheme that is not http basic, and a bad hash, naming the path', () => {
    const wrongScheme: AuthenticateConfig = {
      ...config,
      schemes: { ...config.schemes, bearer: config.schemes.basicAuth },
    };
    assert.throws(
      () => authenticatePolicy.compile(wrongScheme, t.ctx('either')),
      (e: unknown) =>
        e instanceof PolicyConfigError &&
        e.path === 'schemes.bearer' &&
        /not of type http with scheme basic/.test(e.message),
    );
    const badHash: AuthenticateConfig = {
      ...config,
      schemes: {
        ...config.schemes,
        basicAuth: {
          basic: { consumers: [{ name: 'ops', passwordHashes: ['scrypt$16384$8$1$short$short'] }] },
        },
      },
    };
    assert.throws(
      () => authenticatePolicy.compile(badHash, createTestContext(spec).ctx('either')),
      (e: unknown) =>
        e instanceof PolicyConfigError && e.path === 'schemes.basicAuth.basic.consumers[0].passwordHashes[0]',
    );
  });
});

describe('authenticate policy with HTTPS-only Basic beside Bearer, over plain HTTP', () => {
  let server: PolicyServer;
  let t: ReturnType<typeof createTestContext>;

  before(async () => {
    const config: AuthenticateConfig = {
      mode: 'enforce',
      realm: 'shop',
      schemes: {
        bearer: {
          jwt: { issuers: [{ issuer: ISS, jwksUri: 'https://issuer.test/jwks', audiences: [AUD] }] },
        },
        basicAuth: await opsBasic({}),
      },
    };
    t = createTestContext(spec);
    server = await servePolicies(spec, (op) => [
      authenticatePolicy.compile(config, t.ctx(op.id)) as PolicyHandler,
    ]);
  });
  after(() => server.close());

  test('offers only the Bearer challenge, with or without refused Basic credentials', async () => {
    const none = await fetch(`${server.url}/either`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="shop"');
    const plain = await fetch(`${server.url}/either`, {
      headers: { authorization: basic('ops', 'ops password') },
    });
    assert.equal(plain.status, 401);
    assert.equal(plain.headers.get('www-authenticate'), 'Bearer realm="shop"');
    assert.equal(t.events.at(-1)?.['event.reason'], 'insecure_transport');
  });
});
