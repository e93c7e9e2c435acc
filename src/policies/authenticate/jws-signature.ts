import { constants, createHash, type KeyObject, verify } from 'node:crypto';

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
const CURVE: Record<string, { curve: string; bytes: number }> = {
  ES256: { curve: 'prime256v1', bytes: 64 },
  ES384: { curve: 'secp384r1', bytes: 96 },
  ES512: { curve: 'secp521r1', bytes: 132 },
};

/**
 * Verifies a JWS signature synchronously with node:crypto (about a third of the cost of WebCrypto for a
 * DPoP proof). The key type is checked against `alg` (RFC 7518 §3), so a key can never be used with an
 * algorithm of another family; HMAC and `none` are not handled here at all.
 */
export function verifyJwsSignature(
  alg: string,
  key: KeyObject,
  signingInput: string,
  signature: Buffer,
): boolean {
  const type = key.asymmetricKeyType;
  const data = Buffer.from(signingInput);
  try {
    if (/^RS(256|384|512)$/.test(alg)) {
      if (type !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return false;
      return verify(HASH[alg.slice(2)], data, key, signature);
    }
    if (/^PS(256|384|512)$/.test(alg)) {
      if ((type !== 'rsa' && type !== 'rsa-pss') || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
        return false;
      return verify(
        HASH[alg.slice(2)],
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      );
    }
    const ec = CURVE[alg];
    if (ec !== undefined) {
      // Fixed-size R || S (RFC 7518 §3.4); OpenSSL refuses r or s outside [1, n-1], so r = s = 0 fails.
      if (
        type !== 'ec' ||
        key.asymmetricKeyDetails?.namedCurve !== ec.curve ||
        signature.length !== ec.bytes
      ) {
        return false;
      }
      return verify(HASH[alg.slice(2)], data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    if (alg === 'EdDSA' || alg === 'Ed25519') {
      if (type !== 'ed25519' && !(alg === 'EdDSA' && type === 'ed448')) return false;
      return verify(null, data, key, signature);
    }
  } catch {
    return false;
  }
  return false;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK; undefined for unsupported key types. */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  let members: Record<string, unknown>;
  // §3.2: only the required members, in lexicographic order, no whitespace.
  if (jwk.kty === 'EC') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  else if (jwk.kty === 'RSA') members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
  else if (jwk.kty === 'OKP') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  else return undefined;
  if (Object.values(members).some((v) => typeof v !== 'string')) return undefined;
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
