import { createPrivateKey, type JsonWebKey, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import type { Clock } from '../../core/clock.ts';
import { ConfigPathError } from '../../core/errors.ts';
import { withDefaults } from '../../core/policy-config.ts';
import { type PrivateKeyJwtConfig, privateKeyJwtSchema } from './schema.ts';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Signs a fresh client assertion for each call to the authorization server. */
export interface ClientAssertionSigner {
  sign(): Promise<string>;
}

/**
 * Loads the private key once (from `keyFile` or the JWK `key`), checks it fits `alg`, and returns a signer
 * of `private_key_jwt` assertions (RFC 7523 §3, OpenID Connect Core §9): `iss` = `sub` = the client id,
 * `aud` = `audience`, a random `jti`, `iat` and a short `exp`. The key never leaves this closure and is
 * never part of an error message.
 *
 * @example
 * const signer = createClientAssertionSigner({ keyFile: '/etc/portcullis/gw.pem', alg: 'ES256', kid: 'gw-1' },
 *   { clientId: 'portcullis', audience: 'https://id.example.com/introspect', clock: systemClock });
 * const form = { client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: await signer.sign() };
 */
export function createClientAssertionSigner(
  cfg: PrivateKeyJwtConfig,
  opts: { clientId: string; audience: string; clock: Clock },
): ClientAssertionSigner {
  const keyObject = loadKey(cfg);
  checkKeyFitsAlg(keyObject, cfg.alg);
  // Converted once: jose would otherwise turn the KeyObject into a WebCrypto key on every signature.
  const key = keyObject.toCryptoKey(WEBCRYPTO_ALGORITHMS[cfg.alg], false, ['sign']);
  const kid = cfg.kid ?? (typeof cfg.key?.kid === 'string' ? cfg.key.kid : undefined);
  const header = kid === undefined ? { alg: cfg.alg } : { alg: cfg.alg, kid };
  const lifetime = withDefaults(privateKeyJwtSchema, cfg).assertionLifetimeSeconds;
  return {
    sign() {
      const now = Math.floor(opts.clock.now() / 1000);
      return (
        new SignJWT({})
          .setProtectedHeader(header)
          .setIssuer(opts.clientId)
          .setSubject(opts.clientId)
          .setAudience(opts.audience)
          // The authorization server refuses a replayed jti (RFC 7523 §3 item 7): 128 random bits each call.
          .setJti(randomBytes(16).toString('base64url'))
          .setIssuedAt(now)
          .setExpirationTime(now + lifetime)
          .sign(key)
      );
    },
  };
}

const WEBCRYPTO_ALGORITHMS = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
} as const;

function loadKey(cfg: PrivateKeyJwtConfig): KeyObject {
  if ((cfg.keyFile === undefined) === (cfg.key === undefined)) {
    throw new ConfigPathError('', 'give exactly one of keyFile and key');
  }
  if (cfg.keyFile !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(cfg.keyFile, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ConfigPathError('keyFile', `cannot read ${cfg.keyFile} (${code})`);
    }
    try {
      return createPrivateKey(pem);
    } catch {
      throw new ConfigPathError('keyFile', `${cfg.keyFile} holds no PEM private key`);
    }
  }
  try {
    return createPrivateKey({ key: cfg.key as JsonWebKey, format: 'jwk' });
  } catch {
    throw new ConfigPathError('key', 'not a private JWK (it needs the private members, e.g. d)');
  }
}

function checkKeyFitsAlg(key: KeyObject, alg: PrivateKeyJwtConfig['alg']): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const fits =
    alg === 'RS256'
      ? type === 'rsa'
      : alg === 'PS256'
        ? // WebCrypto, which signs here, imports only plain RSA keys (not id-RSASSA-PSS ones).
          type === 'rsa'
        : alg === 'ES256'
          ? type === 'ec' && details.namedCurve === 'prime256v1'
          : type === 'ed25519';
  if (!fits) {
    const what = type === 'ec' ? `an EC key on ${details.namedCurve}` : `a ${type} key`;
    throw new ConfigPathError('alg', `${alg} cannot be used with ${what}`);
  }
  // RFC 7518 §3.3: RSA keys of 2048 bits or more.
  if (type === 'rsa' && (details.modulusLength ?? 0) < 2048) {
    throw new ConfigPathError('alg', 'RSA keys must have at least 2048 bits');
  }
}
