import assert from 'node:assert/strict';
import {
  createHash,
  sign as cryptoSign,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { createManualClock } from '../../../src/core/clock.ts';
import { problems } from '../../../src/core/problems.ts';
import { createSharedServices } from '../../../src/core/shared-services.ts';
import { createJwtVerifier, type JwtOutcome } from '../../../src/policies/authenticate/jwt.ts';
import { op, openapi, startGateway, startServer, type TestGateway, type TestServer } from '../../harness.ts';
import { type JwksServer, startJwksServer } from './support.ts';

const ISS = 'https://issuer.test';
const AUD = 'https://api.test';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A logger whose warnings the test reads. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** A real 2048-bit RSA key pair and its public JWK. */
function rsaKey(kid: string) {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { privateKey: pair.privateKey, jwk };
}

function claims(nowMs: number, extra: Record<string, unknown> = {}) {
  const now = Math.floor(nowMs / 1000);
  return { iss: ISS, aud: AUD, sub: 'alice', iat: now, exp: now + 300, ...extra };
}

function signRs256(privateKey: KeyObject, kid: string, payload: unknown): string {
  const input = `${b64({ alg: 'RS256', kid })}.${b64(payload)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/**
 * The e = 1 forgery: with a public exponent of 1, s^e mod n = s, so the PKCS #1 v1.5 encoded message
 * itself (RFC 8017 §9.2) is a valid RS256 signature. No private key is involved.
 */
function forgeWithExponentOne(
  modulus: string,
  kid: string,
  payload: unknown,
): { token: string; jwk: JsonWebKey } {
  const input = `${b64({ alg: 'RS256', kid })}.${b64(payload)}`;
  const digestInfo = Buffer.concat([
    Buffer.from('3031300d060960864801650304020105000420', 'hex'),
    createHash('sha256').update(input).digest(),
  ]);
  const k = Buffer.from(modulus, 'base64url').length;
  const encoded = Buffer.concat([
    Buffer.from([0, 1]),
    Buffer.alloc(k - 3 - digestInfo.length, 0xff),
    Buffer.from([0]),
    digestInfo,
  ]);
  return {
    token: `${input}.${encoded.toString('base64url')}`,
    jwk: { kty: 'RSA', n: modulus, e: 'AQ', kid, alg: 'RS256', use: 'sig' },
  };
}

describe('JWKS keys refused at runtime (RFC 8725 §3.5, RFC 7518 §3.3)', () => {
  let jwks: JwksServer;
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const good = rsaKey('good');

  before(async () => {
    jwks = await startJwksServer();
  });
  after(() => jwks.close());

  function verifier() {
    const { logger, lines } = capturedLogger();
    const v = createJwtVerifier(
      { issuers: [{ issuer: ISS, jwksUri: jwks.url, audiences: [AUD], algorithms: ['RS256'] }] },
      { clock, logger, shared: createSharedServices() },
    );
    const verify = async (token: string) => {
      const out: JwtOutcome = await v.verify(token);
      return out.ok ? 'ok' : out.reason;
    };
    return { verify, lines };
  }
  const refusals = (lines: Array<Record<string, unknown>>) =>
    lines
      .filter((l) => l.msg === 'JWKS key refused; tokens it signed are not accepted')
      .map((l) => [l.kid, l.reason]);

  test('ignores a JWKS key with public exponent 1 and warns, so a token forged for it is refused', async () => {
    const forged = forgeWithExponentOne(good.jwk.n as string, 'weak', claims(clock.now(), { sub: 'admin' }));
    jwks.setKeys([good.jwk, forged.jwk as Record<string, unknown>]);
    const { verify, lines } = verifier();
    assert.equal(await verify(forged.token), 'unknown_kid');
    assert.deepEqual(refusals(lines), [
      ['weak', 'RSA public exponent must be odd, at least 65537 and below 2^256'],
    ]);
    assert.equal(
      await verify(signRs256(good.privateKey, 'good', claims(clock.now()))),
      'ok',
      'the good key still works',
    );
  });

  test('ignores JWKS keys with exponent 3 or an even exponent', async () => {
    for (const e of ['Aw', 'AQAA']) {
      jwks.setKeys([{ ...good.jwk, e }]);
      const { verify, lines } = verifier();
      assert.equal(await verify(signRs256(good.privateKey, 'good', claims(clock.now()))), 'unknown_kid', e);
      assert.equal(refusals(lines).length, 1, e);
    }
  });

  test('ignores a JWKS RSA key under 2048 bits and warns', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    jwks.setKeys([{ ...small.publicKey.export({ format: 'jwk' }), kid: 'small', alg: 'RS256' }]);
    const { verify, lines } = verifier();
    assert.equal(await verify(signRs256(small.privateKey, 'small', claims(clock.now()))), 'unknown_kid');
    assert.deepEqual(refusals(lines), [
      ['small', 'RSA modulus of 1024 bits is shorter than 2048 (RFC 7518 §3.3)'],
    ]);
  });

  test('ignores both keys of a kid the JWKS names twice, warns, and keeps the other keys', async () => {
    const twin = rsaKey('shared');
    const impostor = rsaKey('shared');
    jwks.setKeys([good.jwk, twin.jwk, impostor.jwk]);
    const { verify, lines } = verifier();
    assert.equal(await verify(signRs256(twin.privateKey, 'shared', claims(clock.now()))), 'unknown_kid');
    assert.equal(await verify(signRs256(impostor.privateKey, 'shared', claims(clock.now()))), 'unknown_kid');
    assert.deepEqual(refusals(lines), [
      ['shared', 'another key has the same kid'],
      ['shared', 'another key has the same kid'],
    ]);
    assert.equal(await verify(signRs256(good.privateKey, 'good', claims(clock.now()))), 'ok');
  });

  test('accepts a JWKS that lists the same key twice under its kid, without a warning', async () => {
    jwks.setKeys([good.jwk, { ...good.jwk }]);
    const { verify, lines } = verifier();
    assert.equal(await verify(signRs256(good.privateKey, 'good', claims(clock.now()))), 'ok');
    assert.deepEqual(refusals(lines), []);
  });
});

describe('weak keys and malformed tokens through the gateway', () => {
  let jwks: JwksServer;
  let upstream: TestServer;
  let gw: TestGateway;
  const warnings = capturedLogger();
  const good = rsaKey('good');
  const spec = openapi(
    { '/me': { get: op('me', { security: [{ bearer: [] }] }) } },
    {
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  );
  const api = (issuer: Record<string, unknown>) => ({
    apis: [
      {
        name: 'keys',
        spec: 'openapi.yaml',
        upstream: { url: upstream.url },
        policies: {
          authenticate: {
            schemes: { bearer: { jwt: { issuers: [{ issuer: ISS, audiences: [AUD], ...issuer }] } } },
          },
        },
      },
    ],
  });
  let upstreamHits = 0;

  before(async () => {
    jwks = await startJwksServer();
    upstream = await startServer((_req, res) => {
      upstreamHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    gw = await startGateway({
      specs: { 'openapi.yaml': spec },
      config: api({ jwksUri: jwks.url, algorithms: ['RS256'] }),
      runtime: { logger: warnings.logger },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await jwks.close();
  });

  const call = async (token: string) => {
    const res = await fetch(`${gw.url}/me`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { type: string };
    return { status: res.status, type: body.type, challenge: res.headers.get('www-authenticate') ?? '' };
  };

  test('answers 401 invalid_token to a token forged for a JWKS key with public exponent 1', async () => {
    const forged = forgeWithExponentOne(good.jwk.n as string, 'weak', claims(Date.now(), { sub: 'admin' }));
    jwks.setKeys([good.jwk, forged.jwk as Record<string, unknown>]);
    const before = upstreamHits;
    const out = await call(forged.token);
    assert.equal(out.status, 401);
    assert.equal(out.type, problems.invalidToken.type);
    assert.match(out.challenge, /error="invalid_token"/);
    assert.equal(upstreamHits, before, 'the upstream never saw it');
    assert.ok(warnings.lines.some((l) => l.kid === 'weak' && /exponent/.test(String(l.reason))));
    assert.equal((await call(signRs256(good.privateKey, 'good', claims(Date.now())))).status, 200);
  });

  test('answers 401 invalid_token to a token holding a lone surrogate or a non-canonical signature', async () => {
    jwks.setKeys([good.jwk]);
    const input = `${b64({ alg: 'RS256', kid: 'good' })}.${Buffer.from(
      JSON.stringify(claims(Date.now())).replace('"alice"', String.raw`"alice\ud800"`),
    ).toString('base64url')}`;
    const surrogate = `${input}.${cryptoSign('sha256', Buffer.from(input), good.privateKey).toString('base64url')}`;
    const ok = signRs256(good.privateKey, 'good', claims(Date.now(), { jti: 'canonical' }));
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const trailing = ok.slice(0, -1) + alphabet[alphabet.indexOf(ok.at(-1) as string) | 1];
    for (const token of [surrogate, trailing]) {
      const out = await call(token);
      assert.equal(out.status, 401);
      assert.equal(out.type, problems.invalidToken.type);
    }
    assert.equal((await call(ok)).status, 200);
  });

  test('refuses to load a static RSA key with public exponent 1, naming its config path', async () => {
    const forged = forgeWithExponentOne(good.jwk.n as string, 'weak', {});
    await assert.rejects(
      () => gw.reload(api({ keys: [good.jwk, forged.jwk], algorithms: ['RS256'] })),
      /schemes\.bearer\.jwt\.issuers\[0\]\.keys\[1\]: .*public exponent/,
    );
  });

  test('refuses to load an HS512 secret shorter than 64 bytes, naming its config path', async () => {
    await assert.rejects(
      () => gw.reload(api({ secrets: [{ secret: 's'.repeat(48) }], algorithms: ['HS512'] })),
      /schemes\.bearer\.jwt\.issuers\[0\]\.secrets\[0\]\.secret: .*HS512 needs a secret of at least 64 bytes/,
    );
  });

  test('refuses to load two different static keys under one kid, naming the config path', async () => {
    const other = rsaKey('good');
    await assert.rejects(
      () => gw.reload(api({ keys: [good.jwk, other.jwk], algorithms: ['RS256'] })),
      /schemes\.bearer\.jwt\.issuers\[0\]\.keys\[0\]: .*same kid/,
    );
    // The failed reloads left the running config alone.
    jwks.setKeys([good.jwk]);
    assert.equal(
      (await call(signRs256(good.privateKey, 'good', claims(Date.now(), { jti: 'after' })))).status,
      200,
    );
  });
});
