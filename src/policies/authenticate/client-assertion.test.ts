import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { pino } from 'pino';
import { createManualClock } from '../../core/clock.ts';
import { ConfigPathError } from '../../core/errors.ts';
import { createClientAssertionSigner } from './client-assertion.ts';
import { createIntrospector } from './introspection.ts';
import type { PrivateKeyJwtConfig } from './schema.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-assertion-'));
const pemOf = (name: string, key: KeyObject) => {
  const file = path.join(dir, `${name}.pem`);
  writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }) as string);
  return file;
};
const keys = {
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  EdDSA: generateKeyPairSync('ed25519'),
} as const;
const clock = createManualClock(Date.UTC(2026, 0, 1));
const opts = { clientId: 'portcullis', audience: 'https://as.example/introspect', clock };

describe('private_key_jwt client assertions (RFC 7523 §2.2)', () => {
  for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
    test(`signs a fresh ${alg} assertion with iss = sub = client id, the audience, a jti and a short exp`, async () => {
      const signer = createClientAssertionSigner(
        { keyFile: pemOf(alg, keys[alg].privateKey), alg, kid: `${alg}-1` },
        opts,
      );
      const a = await signer.sign();
      const b = await signer.sign();
      const { payload, protectedHeader } = await jwtVerify(a, keys[alg].publicKey, {
        algorithms: [alg],
        issuer: 'portcullis',
        subject: 'portcullis',
        audience: 'https://as.example/introspect',
        currentDate: new Date(clock.now()),
      });
      assert.deepEqual(protectedHeader, { alg, kid: `${alg}-1` });
      assert.equal(payload.iat, clock.now() / 1000);
      assert.equal(payload.exp, clock.now() / 1000 + 60);
      assert.match(String(payload.jti), /^[A-Za-z0-9_-]{22}$/);
      const other = await jwtVerify(b, keys[alg].publicKey, { currentDate: new Date(clock.now()) });
      assert.notEqual(other.payload.jti, payload.jti, 'every assertion has its own jti');
    });
  }

  test('takes the key as a private JWK and its kid when none is configured', async () => {
    const jwk = { ...keys.ES256.privateKey.export({ format: 'jwk' }), kid: 'from-jwk' };
    const signer = createClientAssertionSigner(
      { key: jwk, alg: 'ES256', assertionLifetimeSeconds: 30 },
      opts,
    );
    const token = await signer.sign();
    assert.equal(decodeProtectedHeader(token).kid, 'from-jwk');
    const { payload } = await jwtVerify(token, createPublicKey(keys.ES256.privateKey), {
      currentDate: new Date(clock.now()),
    });
    assert.equal((payload.exp as number) - (payload.iat as number), 30);
  });

  test('refuses keys that are missing, unreadable, public, too short or of another type than alg', () => {
    const cases: Array<[PrivateKeyJwtConfig, string, RegExp]> = [
      [{ alg: 'RS256' }, '', /exactly one of keyFile and key/],
      [{ alg: 'RS256', keyFile: pemOf('x', keys.RS256.privateKey), key: { kty: 'RSA' } }, '', /exactly one/],
      [{ alg: 'RS256', keyFile: path.join(dir, 'missing.pem') }, 'keyFile', /cannot read .*ENOENT/],
      [{ alg: 'ES256', key: keys.ES256.publicKey.export({ format: 'jwk' }) }, 'key', /not a private JWK/],
      [
        { alg: 'ES256', keyFile: pemOf('rsa-for-es', keys.RS256.privateKey) },
        'alg',
        /ES256 cannot be used with a rsa key/,
      ],
      [{ alg: 'RS256', keyFile: pemOf('ec-for-rs', keys.ES256.privateKey) }, 'alg', /on prime256v1/],
      [{ alg: 'EdDSA', keyFile: pemOf('rsa-for-ed', keys.PS256.privateKey) }, 'alg', /EdDSA/],
      [
        {
          alg: 'PS256',
          keyFile: pemOf('pss', generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey),
        },
        'alg',
        /PS256 cannot be used with a rsa-pss key/,
      ],
      [
        {
          alg: 'RS256',
          keyFile: pemOf('short', generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey),
        },
        'alg',
        /at least 2048 bits/,
      ],
    ];
    const notPem = path.join(dir, 'not-a-key.pem');
    writeFileSync(notPem, 'hello');
    cases.push([{ alg: 'RS256', keyFile: notPem }, 'keyFile', /holds no PEM private key/]);
    for (const [cfg, where, message] of cases) {
      assert.throws(
        () => createClientAssertionSigner(cfg, opts),
        (err: Error) => err instanceof ConfigPathError && err.path === where && message.test(err.message),
        JSON.stringify(cfg),
      );
    }
  });

  test('the introspection verifier insists on the credentials its authMethod needs', () => {
    const deps = { clock, logger: pino({ level: 'silent' }) };
    const base = { endpoint: 'https://as.example/introspect', clientId: 'gw' };
    const pkj = { keyFile: pemOf('ok', keys.ES256.privateKey), alg: 'ES256' as const };
    const cases: Array<[Parameters<typeof createIntrospector>[0], string]> = [
      [{ ...base, authMethod: 'private_key_jwt' }, 'privateKeyJwt'],
      [{ ...base, authMethod: 'private_key_jwt', privateKeyJwt: pkj, clientSecret: 's' }, 'clientSecret'],
      [
        { ...base, authMethod: 'private_key_jwt', privateKeyJwt: { ...pkj, alg: 'RS256' } },
        'privateKeyJwt.alg',
      ],
      [{ ...base }, 'clientSecret'],
      [{ ...base, clientSecret: 's', privateKeyJwt: pkj }, 'privateKeyJwt'],
    ];
    for (const [cfg, where] of cases) {
      assert.throws(
        () => createIntrospector(cfg, deps),
        (err: Error) => err instanceof ConfigPathError && err.path === where,
        where,
      );
    }
    assert.ok(createIntrospector({ ...base, authMethod: 'private_key_jwt', privateKeyJwt: pkj }, deps));
  });
});
