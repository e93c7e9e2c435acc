import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import {
  createTestContext,
  type PolicyServer,
  servePolicies,
  specOf,
} from '../../../test/identity/support.ts';
import type { PolicyHandler } from '../policy.ts';
import { authenticatePolicy } from './policy.ts';
import type { AuthenticateConfig } from './schema.ts';

const spec = specOf({
  securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, strict: { type: 'http', scheme: 'bearer' } },
  paths: {
    '/nonce': { get: { operationId: 'withNonce', security: [{ bearer: [] }], responses: {} } },
    '/strict': { get: { operationId: 'dpopOnly', security: [{ strict: [] }], responses: {} } },
  },
});

describe('DPoP proofs (RFC 9449)', () => {
  let server: PolicyServer;
  let t: ReturnType<typeof createTestContext>;
  let issuerKey: Awaited<ReturnType<typeof generateKeyPair>>;
  let holder: Awaited<ReturnType<typeof generateKeyPair>>;
  let holderJwk: JWK;

  before(async () => {
    issuerKey = await generateKeyPair('ES256', { extractable: true });
    holder = await generateKeyPair('ES256', { extractable: true });
    holderJwk = await exportJWK(holder.publicKey);
    const jwt = {
      issuers: [
        {
          issuer: 'https://as.test',
          keys: [{ ...(await exportJWK(issuerKey.publicKey)), kid: 'as', alg: 'ES256' }],
          audiences: ['api'],
          algorithms: ['ES256'],
        },
      ],
    };
    const config: AuthenticateConfig = {
      mode: 'enforce',
      schemes: {
        bearer: { jwt, dpop: { requireNonce: true, nonceSecret: 'n'.repeat(32) } },
        strict: { jwt, dpop: { required: true } },
      },
    };
    t = createTestContext(spec);
    server = await servePolicies(spec, (op) => [
      authenticatePolicy.compile(config, t.ctx(op.id)) as PolicyHandler,
    ]);
  });
  after(() => server.close());

  async function token(bound: boolean) {
    const now = Math.floor(Date.now() / 1000);
    const cnf = bound ? { cnf: { jkt: await calculateJwkThumbprint(holderJwk, 'sha256') } } : {};
    return new SignJWT({ iss: 'https://as.test', aud: 'api', sub: 'alice', exp: now + 60, ...cnf })
      .setProtectedHeader({ alg: 'ES256', kid: 'as' })
      .sign(issuerKey.privateKey);
  }
  function proof(
    url: string,
    tok: string,
    extra: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
  ) {
    const ath = createHash('sha256').update(tok).digest('base64url');
    return new SignJWT({
      htm: 'GET',
      htu: url,
      jti: randomUUID(),
      iat: Math.floor(Date.now() / 1000),
      ath,
      ...extra,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holderJwk, ...header })
      .sign(holder.privateKey);
  }

  test('asks for a nonce with use_dpop_nonce and accepts the retry carrying it', async () => {
    const tok = await token(true);
    const url = `${server.url}/nonce`;
    const first = await fetch(url, {
      headers: { authorization: `DPoP ${tok}`, dpop: await proof(url, tok) },
    });
    assert.equal(first.status, 401);
    assert.match(first.headers.get('www-authenticate') ?? '', /^DPoP algs="[^"]+", error="use_dpop_nonce"/);
    const nonce = first.headers.get('dpop-nonce');
    assert.ok(nonce);
    const retry = await fetch(url, {
      headers: { authorization: `DPoP ${tok}`, dpop: await proof(url, tok, { nonce }) },
    });
    assert.equal(retry.status, 200);
  });

  test('refuses a plain bearer token where DPoP is required', async () => {
    const res = await fetch(`${server.url}/strict`, {
      headers: { authorization: `Bearer ${await token(false)}` },
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /DPoP algs=/);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_required');
  });

  test('refuses proofs with a private key, a wrong typ or a symmetric alg', async () => {
    const tok = await token(true);
    const url = `${server.url}/strict`;
    const privateJwk = await exportJWK(holder.privateKey);
    const bad = [
      await proof(url, tok, {}, { jwk: privateJwk }),
      await proof(url, tok, {}, { typ: 'JWT' }),
      await new SignJWT({ htm: 'GET', htu: url, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: holderJwk })
        .sign(new Uint8Array(32)),
    ];
    for (const p of bad) {
      const res = await fetch(url, { headers: { authorization: `DPoP ${tok}`, dpop: p } });
      assert.equal(res.status, 401);
      assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_invalid');
    }
  });

  test('refuses a proof whose ES256 signature is r = s = 0', async () => {
    const tok = await token(true);
    const url = `${server.url}/strict`;
    const [h, p] = (await proof(url, tok)).split('.');
    const forged = `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`;
    const res = await fetch(url, { headers: { authorization: `DPoP ${tok}`, dpop: forged } });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_bad_signature');
  });

  test('refuses a request carrying two DPoP headers', async () => {
    const tok = await token(true);
    const url = `${server.url}/strict`;
    const p = await proof(url, tok);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { headers: { authorization: `DPoP ${tok}`, dpop: [p, p] } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_invalid');
  });

  test('accepts a fresh proof bound to the token and refuses a token bound to another key', async () => {
    const url = `${server.url}/strict`;
    const tok = await token(true);
    assert.equal(
      (await fetch(url, { headers: { authorization: `DPoP ${tok}`, dpop: await proof(url, tok) } })).status,
      200,
    );
    const unbound = await token(false);
    const res = await fetch(url, {
      headers: { authorization: `DPoP ${unbound}`, dpop: await proof(url, unbound) },
    });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_binding_mismatch');
  });
});
