import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { PolicyHandler } from '../../../src/core/policy.ts';
import { authenticatePolicy } from '../../../src/policies/authenticate/policy.ts';
import type { AuthenticateConfig, JwtConfig } from '../../../src/policies/authenticate/schema.ts';
import { createTestContext, specOf } from '../../kit/policy.ts';
import { type PolicyServer, servePolicies } from '../../kit/policy-server.ts';
import { dpopProof, dpopToken } from './support.ts';

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
    const jwt: JwtConfig = {
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

  const token = (bound: boolean) => dpopToken(issuerKey.privateKey, bound ? holderJwk : undefined);
  const proof = (
    url: string,
    tok: string,
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
  ) => dpopProof(holder.privateKey, holderJwk, url, tok, claims, header);

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
  test('refuses a proof whose signature segment has non-zero trailing bits', async () => {
    const tok = await token(true);
    const url = `${server.url}/strict`;
    const [h, p, sig] = (await proof(url, tok)).split('.');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const loose = sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1) as string) | 1];
    assert.deepEqual(Buffer.from(loose, 'base64url'), Buffer.from(sig, 'base64url'), 'same bytes');
    const res = await fetch(url, { headers: { authorization: `DPoP ${tok}`, dpop: `${h}.${p}.${loose}` } });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_invalid');
  });

  test('refuses a proof made without a private key for an RSA jwk whose public exponent is 1', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { kty: 'RSA', n: publicKey.export({ format: 'jwk' }).n as string, e: 'AQ' };
    const now = Math.floor(Date.now() / 1000);
    const tok = await new SignJWT({
      iss: 'https://as.test',
      aud: 'api',
      sub: 'alice',
      exp: now + 60,
      cnf: { jkt: await calculateJwkThumbprint(jwk, 'sha256') },
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'as' })
      .sign(issuerKey.privateKey);
    const url = `${server.url}/strict`;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'RS256', typ: 'dpop+jwt', jwk })}.${b64({
      htm: 'GET',
      htu: url,
      jti: randomUUID(),
      iat: now,
      ath: createHash('sha256').update(tok).digest('base64url'),
    })}`;
    // With e = 1 the PKCS #1 v1.5 encoded message is its own signature (RFC 8017 §9.2).
    const digestInfo = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      createHash('sha256').update(input).digest(),
    ]);
    const encoded = Buffer.concat([
      Buffer.from([0, 1]),
      Buffer.alloc(256 - 3 - digestInfo.length, 0xff),
      Buffer.from([0]),
      digestInfo,
    ]);
    const res = await fetch(url, {
      headers: { authorization: `DPoP ${tok}`, dpop: `${input}.${encoded.toString('base64url')}` },
    });
    assert.equal(res.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'dpop_invalid');
  });
});
