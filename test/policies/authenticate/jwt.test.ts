import assert from 'node:assert/strict';
import { createPublicKey, sign as cryptoSign, generateKeyPairSync, KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { pino } from 'pino';
import { createManualClock } from '../../../src/core/clock.ts';
import { ConfigPathError } from '../../../src/core/errors.ts';
import { createSharedServices } from '../../../src/core/shared-services.ts';
import { createJwtVerifier, type JwtOutcome } from '../../../src/policies/authenticate/jwt.ts';
import type { JwtIssuerConfig } from '../../../src/policies/authenticate/schema.ts';
import { until } from '../../kit/server.ts';
import { type JwksServer, startJwksServer } from './support.ts';

const ISS = 'https://issuer.test';
const AUD = 'https://api.test';
const logger = pino({ level: 'silent' });

type Pair = Awaited<ReturnType<typeof generateKeyPair>>;

async function keyPair(alg: string, kid: string): Promise<{ pair: Pair; jwk: JWK }> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  return { pair, jwk };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('JWT verifier', () => {
  let jwks: JwksServer;
  let rsaA: { pair: Pair; jwk: JWK };
  let ec: { pair: Pair; jwk: JWK };
  let attacker: { pair: Pair; jwk: JWK };
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const nowS = () => Math.floor(clock.now() / 1000);

  before(async () => {
    jwks = await startJwksServer();
    rsaA = await keyPair('RS256', 'key-a');
    ec = await keyPair('ES256', 'key-ec');
    attacker = await keyPair('RS256', 'key-a');
  });
  after(() => jwks.close());

  function claims(extra: JWTPayload = {}): JWTPayload {
    return { iss: ISS, aud: AUD, sub: 'alice', iat: nowS(), exp: nowS() + 300, scope: 'read', ...extra };
  }
  function sign(k: { pair: Pair; jwk: JWK }, payload = claims(), header: Record<string, unknown> = {}) {
    return new SignJWT(payload)
      .setProtectedHeader({ alg: k.jwk.alg as string, kid: k.jwk.kid, ...header })
      .sign(k.pair.privateKey);
  }
  function verifier(issuer: Partial<JwtIssuerConfig> = {}, extra: { maxTokenBytes?: number } = {}) {
    return createJwtVerifier(
      {
        issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD], algorithms: ['RS256'], ...issuer }],
        ...extra,
      },
      { clock, logger, shared: createSharedServices() },
    );
  }

  test('accepts a valid RS256 token from the JWKS and returns its claims', async () => {
    jwks.setKeys([rsaA.jwk]);
    const out = await verifier().verify(await sign(rsaA));
    assert.equal(out.ok, true);
    assert.equal(out.ok && out.claims.sub, 'alice');
  });

  test('bounds the verified-token cache and serves repeated tokens from it', async () => {
    jwks.setKeys([rsaA.jwk]);
    const v = createJwtVerifier(
      {
        issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD], algorithms: ['RS256'] }],
        tokenCacheMaxEntries: 2,
      },
      { clock, logger, shared: createSharedServices() },
    );
    const tokens = await Promise.all([1, 2, 3, 4].map((n) => sign(rsaA, claims({ jti: `t${n}` }))));
    for (const tok of tokens) assert.equal((await v.verify(tok)).ok, true);
    assert.equal(v.cacheSize, 2);
    const first = await v.verify(tokens[3]);
    const again = await v.verify(tokens[3]);
    assert.equal(first.ok && again.ok && first.claims === again.claims, true, 'same cached claims object');
  });

  test('refuses alg none in every casing before any key lookup', async () => {
    const v = verifier();
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const token = `${b64({ alg, typ: 'JWT' })}.${b64(claims())}.`;
      const out = await v.verify(token);
      assert.deepEqual(out.ok ? 'ok' : out.reason, 'alg_none', alg);
    }
  });

  test('refuses an HS256 token signed with the RSA public key (key confusion)', async () => {
    jwks.setKeys([rsaA.jwk]);
    const pem = createPublicKey({ key: rsaA.jwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const forged = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', kid: 'key-a' })
      .sign(new TextEncoder().encode(String(pem)));
    const out = await verifier().verify(forged);
    assert.equal(out.ok ? 'ok' : out.reason, 'alg_not_allowed');
    // Even where HS256 is allowed, only the configured secret verifies it, never a JWKS key.
    const withHmac = verifier({ algorithms: ['RS256', 'HS256'], secrets: [{ secret: 'x'.repeat(32) }] });
    const out2 = await withHmac.verify(forged);
    assert.equal(out2.ok ? 'ok' : out2.reason, 'bad_signature');
  });

  test('refuses tokens that carry their own key in jwk, jku, x5u or x5c', async () => {
    jwks.setKeys([rsaA.jwk]);
    const v = verifier();
    const headers = [
      { jwk: attacker.jwk },
      { jku: `${jwks.origin}/evil-jwks` },
      { x5u: `${jwks.origin}/evil.pem` },
      { x5c: ['MIIB'] },
    ];
    for (const h of headers) {
      const out = await v.verify(await sign(attacker, claims(), h));
      assert.equal(out.ok ? 'ok' : out.reason, 'embedded_key', Object.keys(h)[0]);
    }
  });

  test('treats an injected kid as unknown and does not refetch the JWKS for each attempt', async () => {
    jwks.setKeys([rsaA.jwk]);
    const v = verifier({ jwksCooldownSeconds: 30 });
    assert.equal((await v.verify(await sign(rsaA))).ok, true);
    const before = jwks.hits;
    for (const kid of ['../../../../dev/null', "' OR '1'='1", 'key-a\u0000', 'x'.repeat(200)]) {
      const out = await v.verify(await sign(attacker, claims(), { kid }));
      assert.equal(out.ok ? 'ok' : out.reason, 'unknown_kid', kid);
    }
    assert.equal(jwks.hits, before, 'unknown kids inside the cooldown cause no fetch');
  });

  test('refuses an ES256 signature with r = s = 0', async () => {
    jwks.setKeys([ec.jwk]);
    const v = verifier({ algorithms: ['ES256'] });
    const genuine = await sign(ec);
    assert.equal((await v.verify(genuine)).ok, true);
    const [h, p] = genuine.split('.');
    const forged = `${h}.${b64(claims({ sub: 'mallory' }))}.${Buffer.alloc(64).toString('base64url')}`;
    assert.equal(h.length > 0 && p.length > 0, true);
    const out = await v.verify(forged);
    assert.equal(out.ok ? 'ok' : out.reason, 'bad_signature');
  });

  test('refuses a token whose signature was made by another key with the same kid', async () => {
    jwks.setKeys([rsaA.jwk]);
    const out = await verifier().verify(await sign(attacker));
    assert.equal(out.ok ? 'ok' : out.reason, 'bad_signature');
  });

  test('maps expired, future nbf, future iat, wrong issuer and wrong audience to their reasons', async () => {
    jwks.setKeys([rsaA.jwk]);
    const v = verifier({ clockSkewSeconds: 30 });
    const cases: Array<[JWTPayload, string]> = [
      [claims({ exp: nowS() - 31 }), 'expired'],
      [claims({ nbf: nowS() + 120 }), 'not_yet_valid'],
      [claims({ iat: nowS() + 120 }), 'bad_iat'],
      [claims({ iss: 'https://evil.test' }), 'wrong_issuer'],
      [claims({ aud: 'https://other-api.test' }), 'wrong_audience'],
      [{ iss: ISS, aud: AUD, sub: 'alice' }, 'missing_claim'],
    ];
    for (const [payload, reason] of cases) {
      const out = await v.verify(await sign(rsaA, payload));
      assert.equal(out.ok ? 'ok' : out.reason, reason);
    }
  });

  test('accepts a token expired by less than the clock skew', async () => {
    jwks.setKeys([rsaA.jwk]);
    const out = await verifier({ clockSkewSeconds: 30 }).verify(
      await sign(rsaA, claims({ exp: nowS() - 10 })),
    );
    assert.equal(out.ok, true);
  });

  test('refuses an unknown critical header parameter', async () => {
    jwks.setKeys([rsaA.jwk]);
    // jose refuses to sign this, so the token is assembled and signed by hand.
    const input = `${b64({ alg: 'RS256', kid: 'key-a', crit: ['urn:x:unknown'], 'urn:x:unknown': true })}.${b64(claims())}`;
    const sig = cryptoSign(
      'sha256',
      Buffer.from(input),
      KeyObject.from(rsaA.pair.privateKey as Parameters<typeof KeyObject.from>[0]),
    );
    const token = `${input}.${sig.toString('base64url')}`;
    const out = await verifier().verify(token);
    assert.equal(out.ok ? 'ok' : out.reason, 'unsupported_crit');
  });

  test('refuses an oversized token without parsing it', async () => {
    jwks.setKeys([rsaA.jwk]);
    const token = await sign(rsaA, claims({ pad: 'x'.repeat(9000) }));
    const out = await verifier({}, { maxTokenBytes: 8192 }).verify(token);
    assert.equal(out.ok ? 'ok' : out.reason, 'oversized');
  });

  test('requires typ at+jwt when configured, accepting the application/ prefix', async () => {
    jwks.setKeys([rsaA.jwk]);
    const v = verifier({ typ: 'at+jwt' });
    assert.equal((await v.verify(await sign(rsaA, claims(), { typ: 'application/at+jwt' }))).ok, true);
    const out = await v.verify(await sign(rsaA, claims(), { typ: 'JWT' }));
    assert.equal(out.ok ? 'ok' : out.reason, 'wrong_typ');
  });

  test('verifies HS256 only with a configured secret', async () => {
    const secret = 's'.repeat(40);
    const v = verifier({ algorithms: ['HS256'], secrets: [{ secret }], jwksUri: undefined });
    const good = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(secret));
    assert.equal((await v.verify(good)).ok, true);
    const bad = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('t'.repeat(40)));
    const out = await v.verify(bad);
    assert.equal(out.ok ? 'ok' : out.reason, 'bad_signature');
  });

  test('accepts HMAC tokens signed with any configured secret during rotation', async () => {
    const old = 'o'.repeat(40);
    const next = 'n'.repeat(40);
    const v = verifier({
      algorithms: ['HS256'],
      secrets: [{ secret: old }, { secret: next }],
      jwksUri: undefined,
    });
    for (const secret of [old, next]) {
      const tok = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(secret));
      assert.equal((await v.verify(tok)).ok, true);
    }
  });

  test('accepts PS256 and EdDSA tokens when allowed', async () => {
    const ps = await keyPair('PS256', 'ps');
    const ed = await keyPair('EdDSA', 'ed');
    jwks.setKeys([ps.jwk, ed.jwk]);
    const v = verifier({ algorithms: ['PS256', 'EdDSA'] });
    assert.equal((await v.verify(await sign(ps))).ok, true);
    assert.equal((await v.verify(await sign(ed))).ok, true);
  });

  test('refuses a kid that names a key of another family than the alg', async () => {
    jwks.setKeys([rsaA.jwk, ec.jwk]);
    const v = verifier({ algorithms: ['RS256', 'ES256'] });
    const out = await v.verify(await sign(rsaA, claims(), { kid: 'key-ec' }));
    assert.equal(out.ok ? 'ok' : out.reason, 'unknown_kid');
  });

  test('refuses RS256 signatures from RSA keys shorter than 2048 bits', async () => {
    // jose will not make such a key, so it is made and used with node:crypto.
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    jwks.setKeys([{ ...small.publicKey.export({ format: 'jwk' }), kid: 'small', alg: 'RS256' }]);
    const input = `${b64({ alg: 'RS256', kid: 'small' })}.${b64(claims())}`;
    const sig = cryptoSign('sha256', Buffer.from(input), small.privateKey).toString('base64url');
    const out = await verifier().verify(`${input}.${sig}`);
    // The short key never enters the key set (key-strength.ts), so its kid is unknown.
    assert.equal(out.ok ? 'ok' : out.reason, 'unknown_kid');
  });

  test('checks audiences in an array, NumericDate types and the maximum token age', async () => {
    jwks.setKeys([rsaA.jwk]);
    const v = verifier({ maxTokenAgeSeconds: 60 });
    assert.equal((await v.verify(await sign(rsaA, claims({ aud: ['other', AUD] })))).ok, true);
    const cases: Array<[JWTPayload, string]> = [
      [claims({ aud: undefined }), 'missing_claim'],
      [claims({ exp: String(nowS() + 60) as unknown as number }), 'invalid_claim'],
      [claims({ iat: nowS() - 600 }), 'too_old'],
      [claims({ iat: undefined }), 'missing_claim'],
    ];
    for (const [payload, reason] of cases) {
      const out = await v.verify(await sign(rsaA, payload));
      assert.equal(out.ok ? 'ok' : out.reason, reason);
    }
  });

  test('refuses configs that allow none or HMAC without secrets', () => {
    const deps = { clock, logger, shared: createSharedServices() };
    assert.throws(
      () =>
        createJwtVerifier(
          { issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD], algorithms: ['HS256'] }] },
          deps,
        ),
      (e: unknown) => e instanceof ConfigPathError && e.path === 'issuers[0].algorithms',
    );
    assert.throws(
      () =>
        createJwtVerifier(
          // @ts-expect-error `none` is no algorithm the schema lists; the verifier refuses it all the same
          { issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD], algorithms: ['none'] }] },
          deps,
        ),
      ConfigPathError,
    );
  });

  test('selects the issuer by iss among several and checks each with its own keys', async () => {
    const other = await keyPair('ES256', 'other');
    jwks.setKeys([rsaA.jwk]);
    const v = createJwtVerifier(
      {
        issuers: [
          { issuer: ISS, jwksUri: jwks.url, audiences: [AUD], algorithms: ['RS256'] },
          {
            issuer: 'https://second.test',
            keys: [other.jwk as Record<string, unknown>],
            audiences: [AUD],
            algorithms: ['ES256'],
          },
        ],
      },
      { clock, logger, shared: createSharedServices() },
    );
    assert.equal((await v.verify(await sign(rsaA))).ok, true);
    assert.equal((await v.verify(await sign(other, claims({ iss: 'https://second.test' })))).ok, true);
    // A key of the second issuer cannot sign for the first.
    const cross = await v.verify(await sign(other, claims()));
    assert.equal(cross.ok ? 'ok' : cross.reason, 'alg_not_allowed');
  });
});

describe('JWKS rotation and availability', () => {
  let jwks: JwksServer;
  before(async () => {
    jwks = await startJwksServer();
  });
  after(() => jwks.close());

  test('accepts a new kid after one rate-limited refetch and refuses a removed kid, flushing its cached tokens', async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const nowS = () => Math.floor(clock.now() / 1000);
    const a = await keyPair('RS256', 'a');
    const b = await keyPair('RS256', 'b');
    const sign = (k: { pair: Pair; jwk: JWK }) =>
      new SignJWT({ iss: ISS, aud: AUD, sub: 'u', iat: nowS(), exp: nowS() + 3600 })
        .setProtectedHeader({ alg: 'RS256', kid: k.jwk.kid })
        .sign(k.pair.privateKey);
    jwks.setKeys([a.jwk]);
    const v = createJwtVerifier(
      { issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD], jwksCooldownSeconds: 30 }] },
      { clock, logger, shared: createSharedServices() },
    );
    const tokenA = await sign(a);
    assert.equal((await v.verify(tokenA)).ok, true);
    assert.equal(v.cacheSize, 1);

    jwks.setKeys([a.jwk, b.jwk]);
    const tokenB = await sign(b);
    const early = await v.verify(tokenB);
    assert.equal(
      early.ok ? 'ok' : early.reason,
      'unknown_kid',
      'refetch is rate limited right after a fetch',
    );
    clock.advance(31_000);
    const hits = jwks.hits;
    assert.equal((await v.verify(tokenB)).ok, true, 'new kid accepted after the cooldown');
    assert.equal(jwks.hits, hits + 1);

    // Rotation: a leaves the set. Past the JWKS max-age (300 s), a request triggers a background refresh.
    jwks.setKeys([b.jwk]);
    clock.advance(300_000);
    const before = jwks.hits;
    await v.verify(await sign(b));
    await until(() => jwks.hits > before, 'a JWKS refetch', { ms: 1000, everyMs: 5 });
    await new Promise((r) => setTimeout(r, 20));
    const out = await v.verify(tokenA);
    assert.equal(out.ok ? 'ok' : out.reason, 'unknown_kid', 'cached token of the removed key is refused');
  });

  test('keeps the last good keys while the JWKS endpoint is down', async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const nowS = () => Math.floor(clock.now() / 1000);
    const a = await keyPair('RS256', 'a');
    const sign = () =>
      new SignJWT({ iss: ISS, aud: AUD, sub: 'u', iat: nowS(), exp: nowS() + 60, jti: String(Math.random()) })
        .setProtectedHeader({ alg: 'RS256', kid: 'a' })
        .sign(a.pair.privateKey);
    jwks.setKeys([a.jwk]);
    jwks.setDown(false);
    const v = createJwtVerifier(
      { issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD], jwksCooldownSeconds: 5 }] },
      { clock, logger, shared: createSharedServices() },
    );
    assert.equal((await v.verify(await sign())).ok, true);
    jwks.setDown(true);
    clock.advance(3_600_000);
    const hits = jwks.hits;
    assert.equal((await v.verify(await sign())).ok, true);
    await until(() => jwks.hits > hits, 'a JWKS refetch', { ms: 1000, everyMs: 5 });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await v.verify(await sign())).ok, true, 'still accepted after a failed refresh');
    jwks.setDown(false);
  });

  test('fails closed as unavailable when no JWKS was ever loaded', async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const a = await keyPair('RS256', 'a');
    jwks.setDown(true);
    const v = createJwtVerifier(
      { issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD] }] },
      { clock, logger, shared: createSharedServices() },
    );
    const t = await new SignJWT({ iss: ISS, aud: AUD, exp: Math.floor(clock.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'a' })
      .sign(a.pair.privateKey);
    const out = await v.verify(t);
    assert.deepEqual(out.ok ? 'ok' : [out.reason, out.unavailable], ['key_source_unavailable', true]);
    jwks.setDown(false);
  });

  test('finds the JWKS through OpenID Connect discovery and refuses metadata naming another issuer', async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const a = await keyPair('RS256', 'a');
    jwks.setKeys([a.jwk]);
    const issuer = `${jwks.origin}/tenant`;
    jwks.serve('/tenant/.well-known/openid-configuration', { issuer, jwks_uri: jwks.url });
    const t = await new SignJWT({ iss: issuer, aud: AUD, exp: Math.floor(clock.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'a' })
      .sign(a.pair.privateKey);
    const v = createJwtVerifier(
      { issuers: [{ issuer, discovery: true, audiences: [AUD] }] },
      { clock, logger, shared: createSharedServices() },
    );
    assert.equal((await v.verify(t)).ok, true);

    const liar = `${jwks.origin}/liar`;
    jwks.serve('/liar/.well-known/openid-configuration', {
      issuer: 'https://someone-else.test',
      jwks_uri: jwks.url,
    });
    const t2 = await new SignJWT({ iss: liar, aud: AUD, exp: Math.floor(clock.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'a' })
      .sign(a.pair.privateKey);
    const v2 = createJwtVerifier(
      { issuers: [{ issuer: liar, discovery: true, audiences: [AUD] }] },
      { clock, logger, shared: createSharedServices() },
    );
    const out = await v2.verify(t2);
    assert.equal(out.ok ? 'ok' : out.reason, 'key_source_unavailable');
  });
});

describe('JWT keys refused at load (RFC 7518 §3.2, §3.3; RFC 8725 §3.5)', () => {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const deps = () => ({ clock, logger, shared: createSharedServices() });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaJwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'RS256' } as Record<
    string,
    unknown
  >;
  const issuerWith = (extra: Partial<JwtIssuerConfig>) =>
    createJwtVerifier(
      { issuers: [{ issuer: ISS, audiences: [AUD], algorithms: ['RS256'], ...extra }] },
      deps(),
    );
  const refusedAt = (path: string, message: RegExp) => (e: unknown) =>
    e instanceof ConfigPathError && e.path === path && message.test(e.message);

  test('refuses a static RSA key whose public exponent is 1, 3 or even, naming its config path', () => {
    for (const e of ['AQ', 'Aw', 'AQAA']) {
      assert.throws(
        () =>
          issuerWith({
            keys: [
              { ...rsaJwk, kid: 'good' },
              { ...rsaJwk, e },
            ],
          }),
        refusedAt('issuers[0].keys[1]', /public exponent/),
        e,
      );
    }
  });

  test('refuses a static RSA key with a modulus under 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    assert.throws(
      () => issuerWith({ keys: [{ ...small, kid: 'small' }] }),
      refusedAt('issuers[0].keys[0]', /1024 bits/),
    );
  });

  test('refuses two different static keys under one kid and accepts the same key listed twice', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    assert.throws(
      () => issuerWith({ keys: [rsaJwk, { ...other, kid: 'k', alg: 'RS256' }] }),
      refusedAt('issuers[0].keys[0]', /same kid/),
    );
    assert.doesNotThrow(() => issuerWith({ keys: [rsaJwk, { ...rsaJwk }] }));
  });

  test('refuses HMAC secrets shorter than the hash of the longest HMAC algorithm allowed', () => {
    const hmac = (algorithms: JwtIssuerConfig['algorithms'], secret: string) =>
      issuerWith({ algorithms, secrets: [{ kid: 'a', secret: 'a'.repeat(64) }, { secret }] });
    assert.throws(
      () => hmac(['HS384'], 'x'.repeat(47)),
      refusedAt('issuers[0].secrets[1].secret', /HS384 needs a secret of at least 48 bytes; this one has 47/),
    );
    assert.throws(
      () => hmac(['HS256', 'HS512'], 'x'.repeat(63)),
      refusedAt('issuers[0].secrets[1].secret', /HS512 needs a secret of at least 64 bytes/),
    );
    assert.throws(() => hmac(['HS256'], 'x'.repeat(31)), refusedAt('issuers[0].secrets[1].secret', /HS256/));
    assert.doesNotThrow(() => hmac(['HS384'], 'x'.repeat(48)));
    assert.doesNotThrow(() => hmac(['HS512'], 'x'.repeat(64)));
  });

  test('refuses two different HMAC secrets, or a secret and a key, under one kid', () => {
    assert.throws(
      () =>
        issuerWith({
          algorithms: ['HS256'],
          secrets: [
            { kid: 'h', secret: 'a'.repeat(32) },
            { kid: 'h', secret: 'b'.repeat(32) },
          ],
        }),
      refusedAt('issuers[0].secrets[1].kid', /two different secrets/),
    );
    assert.throws(
      () =>
        issuerWith({
          algorithms: ['RS256', 'HS256'],
          keys: [rsaJwk],
          secrets: [{ kid: 'k', secret: 'a'.repeat(32) }],
        }),
      refusedAt('issuers[0].secrets[0].kid', /also names a key/),
    );
  });
});

describe('JWT encodings refused (RFC 7515 §2, RFC 7519 §2, RFC 8259 §8)', () => {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const nowS = Math.floor(clock.now() / 1000);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const v = createJwtVerifier(
    {
      issuers: [
        {
          issuer: ISS,
          audiences: [AUD],
          algorithms: ['RS256'],
          keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'RS256' }],
        },
      ],
    },
    { clock, logger, shared: createSharedServices() },
  );
  const HEADER = '{"alg":"RS256","kid":"k"}';
  /** Claims as JSON text: each member's value is written raw, so any spelling can be tested. */
  const claimsText = (over: Record<string, string> = {}, extra = '') => {
    const members = {
      iss: JSON.stringify(ISS),
      aud: JSON.stringify(AUD),
      sub: '"alice"',
      iat: String(nowS),
      exp: String(nowS + 300),
      ...over,
    };
    return `{${Object.entries(members)
      .map(([k, val]) => `"${k}":${val}`)
      .join(',')}${extra}}`;
  };
  /** Signs the given segments exactly as written (jose would re-encode them). */
  const signSegments = (h: string, p: string) =>
    `${h}.${p}.${cryptoSign('sha256', Buffer.from(`${h}.${p}`), rsa.privateKey).toString('base64url')}`;
  const token = (payload: string | Buffer, header: string | Buffer = HEADER) =>
    signSegments(Buffer.from(header).toString('base64url'), Buffer.from(payload).toString('base64url'));
  const reason = (t: string) => {
    const out = v.verify(t) as JwtOutcome;
    return out.ok ? 'ok' : out.reason;
  };
  /** Sets a spare low bit of the last character, which base64url decoders ignore. */
  const withTrailingBits = (segment: string) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    assert.notEqual(segment.length % 4, 0, 'the segment must leave spare bits');
    return segment.slice(0, -1) + alphabet[alphabet.indexOf(segment.at(-1) as string) | 1];
  };

  test('accepts the hand-made reference token', () => {
    assert.equal(reason(token(claimsText())), 'ok');
  });

  test('refuses a signature segment with non-zero trailing bits that decodes to the valid signature', () => {
    const [h, p, sig] = token(claimsText()).split('.');
    const forged = `${h}.${p}.${withTrailingBits(sig)}`;
    assert.deepEqual(Buffer.from(forged.split('.')[2], 'base64url'), Buffer.from(sig, 'base64url'));
    assert.equal(reason(forged), 'malformed');
  });

  test('refuses a header or claims segment with trailing bits, padding or an impossible length', () => {
    const h = b64(HEADER);
    const p = [claimsText(), claimsText({}, ',"a":1'), claimsText({}, ',"ab":1')]
      .map(b64)
      .find((x) => x.length % 4 !== 0) as string;
    assert.equal(reason(signSegments(withTrailingBits(h), p)), 'malformed', 'header trailing bits');
    assert.equal(reason(signSegments(h, withTrailingBits(p))), 'malformed', 'claims trailing bits');
    assert.equal(reason(signSegments(h, `${p}${'='.repeat(4 - (p.length % 4))}`)), 'malformed', 'padding');
    assert.equal(reason(signSegments(h, `${p}${'A'.repeat(5 - (p.length % 4))}`)), 'malformed', '4n+1 long');
    assert.equal(reason(signSegments(h, `${p.slice(0, 4)} ${p.slice(4)}`)), 'malformed', 'a space');
  });

  test('refuses a header or claims segment that is not valid UTF-8', () => {
    const inString = (text: string, bytes: number[]) =>
      Buffer.concat([
        Buffer.from(text.slice(0, -1)),
        Buffer.from(',"x":"a'),
        Buffer.from(bytes),
        Buffer.from('"}'),
      ]);
    assert.equal(reason(token(inString(claimsText(), [0xff]))), 'malformed', 'claims: 0xff');
    assert.equal(reason(token(inString(claimsText(), [0xc3]))), 'malformed', 'claims: truncated sequence');
    assert.equal(
      reason(token(inString(claimsText(), [0xed, 0xa0, 0x80]))),
      'malformed',
      'claims: CESU surrogate',
    );
    assert.equal(reason(token(claimsText(), inString(HEADER, [0xfe]))), 'malformed', 'header');
    assert.equal(reason(token(inString(claimsText(), [0xc3, 0xa9]))), 'ok', 'valid UTF-8 é');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(claimsText())]);
    assert.equal(reason(token(bom)), 'malformed', 'byte order mark');
  });

  test('refuses a lone surrogate escape in a claim value, a claim name or the header', () => {
    assert.equal(reason(token(claimsText({ name: String.raw`"x\\ud800y"` }))), 'ok', 'an escaped backslash');
    assert.equal(reason(token(claimsText({ name: String.raw`"\ud83d\ude00"` }))), 'ok', 'a surrogate pair');
    assert.equal(
      reason(token(claimsText({ sub: String.raw`"\ud800"` }))),
      'malformed',
      'lone high surrogate',
    );
    assert.equal(reason(token(claimsText({ roles: String.raw`["a","\udc00"]` }))), 'malformed', 'lone low');
    assert.equal(
      reason(token(claimsText({ name: String.raw`"\ude00\ud83d"` }))),
      'malformed',
      'reversed pair',
    );
    assert.equal(reason(token(claimsText({}, String.raw`,"\ud800":1`))), 'malformed', 'in a name');
    assert.equal(
      reason(token(claimsText(), String.raw`{"alg":"RS256","kid":"k","x":"\uD800"}`)),
      'malformed',
      'header',
    );
  });

  test('refuses a typ header that is present but not a string', () => {
    assert.equal(reason(token(claimsText(), '{"alg":"RS256","kid":"k","typ":"JWT"}')), 'ok');
    for (const typ of ['1', 'null', 'true', '["JWT"]', '{}']) {
      assert.equal(reason(token(claimsText(), `{"alg":"RS256","kid":"k","typ":${typ}}`)), 'malformed', typ);
    }
  });

  test('refuses an aud that holds a non-string, and sub, jti or client_id that are not strings', () => {
    assert.equal(reason(token(claimsText({ aud: `["x","${AUD}"]` }))), 'ok');
    for (const aud of [`["${AUD}",1]`, `["${AUD}",null]`, `[["${AUD}"]]`, `{"0":"${AUD}"}`, '42']) {
      assert.equal(reason(token(claimsText({ aud }))), 'invalid_claim', aud);
    }
    const nonStrings: Array<Record<string, string>> = [
      { sub: '42' },
      { sub: 'null' },
      { jti: '7' },
      { client_id: '{}' },
    ];
    for (const over of nonStrings) {
      assert.equal(reason(token(claimsText(over))), 'invalid_claim', JSON.stringify(over));
    }
  });

  test('refuses exp, nbf and iat that are negative, beyond year 9999 or not finite', () => {
    assert.equal(reason(token(claimsText({ exp: '253402300799' }))), 'ok', 'the last second of 9999');
    assert.equal(reason(token(claimsText({ exp: `${nowS + 300.5}` }))), 'ok', 'a fractional NumericDate');
    assert.equal(reason(token(claimsText({ nbf: '0' }))), 'ok', 'the epoch');
    const refused: Array<Record<string, string>> = [
      { exp: '253402300800' },
      { exp: '1e12' },
      { exp: '1e999' },
      { iat: '-1' },
      { iat: '-1e999' },
      { nbf: '-5' },
      { nbf: '1e400' },
      { exp: '"never"' },
    ];
    for (const over of refused) {
      assert.equal(reason(token(claimsText(over))), 'invalid_claim', JSON.stringify(over));
    }
  });
});
