import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type JsonWebKey, KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { jwkThumbprint, verifyJwsSignature } from './jws-signature.ts';

async function signed(alg: string, opts: Record<string, unknown> = {}) {
  const pair = await generateKeyPair(alg, { extractable: true, ...opts });
  const jws = await new SignJWT({ a: 1 }).setProtectedHeader({ alg }).sign(pair.privateKey);
  const [h, p, s] = jws.split('.');
  const key = KeyObject.from(pair.publicKey as Parameters<typeof KeyObject.from>[0]);
  return { input: `${h}.${p}`, sig: Buffer.from(s, 'base64url'), key };
}

describe('synchronous JWS signature check', () => {
  test('verifies RS256, PS256, ES256, ES384 and EdDSA signatures made by jose', async () => {
    for (const alg of ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']) {
      const { input, sig, key } = await signed(alg);
      assert.equal(verifyJwsSignature(alg, key, input, sig), true, alg);
      assert.equal(verifyJwsSignature(alg, key, `${input}x`, sig), false, `${alg} tampered`);
    }
  });

  test('refuses a key of another family than the alg names', async () => {
    const es = await signed('ES256');
    assert.equal(verifyJwsSignature('RS256', es.key, es.input, es.sig), false);
    assert.equal(verifyJwsSignature('ES384', es.key, es.input, es.sig), false);
    assert.equal(verifyJwsSignature('HS256', es.key, es.input, es.sig), false);
    assert.equal(verifyJwsSignature('none', es.key, es.input, Buffer.alloc(0)), false);
  });

  test('refuses an ES256 signature with r = s = 0', async () => {
    const { input, key } = await signed('ES256');
    assert.equal(verifyJwsSignature('ES256', key, input, Buffer.alloc(64)), false);
  });

  test('refuses RSA keys shorter than 2048 bits', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assert.equal(verifyJwsSignature('RS256', publicKey, 'a.b', Buffer.alloc(128)), false);
  });
});

describe('JWK thumbprint', () => {
  test('matches the RFC 7638 §3.1 example', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    assert.equal(jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  test('agrees with jose for EC and OKP keys and refuses symmetric ones', async () => {
    for (const alg of ['ES256', 'EdDSA']) {
      const jwk = await exportJWK((await generateKeyPair(alg, { extractable: true })).publicKey);
      assert.equal(
        jwkThumbprint(jwk as Record<string, unknown>),
        await calculateJwkThumbprint(jwk, 'sha256'),
      );
      assert.ok(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
    }
    assert.equal(jwkThumbprint({ kty: 'oct', k: 'c2VjcmV0' }), undefined);
  });
});
