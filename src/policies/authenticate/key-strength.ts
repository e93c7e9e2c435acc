import type { KeyObject } from 'node:crypto';

/** Shortest RSA modulus accepted, in bits (RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used"). */
export const MIN_RSA_MODULUS_BITS = 2048;

/** RSA public exponents accepted: odd and 2^16 < e < 2^256 (NIST FIPS 186-5 §A.1.1). */
const MIN_RSA_EXPONENT = 65537n;
const MAX_RSA_EXPONENT = 2n ** 256n;

/**
 * Why an imported public key must not verify anything (RFC 8725 §3.5), or undefined when it may.
 * RSA keys need a modulus of at least 2048 bits and an odd public exponent of at least 65537 below 2^256:
 * with e = 1 the "signature" is the padded message itself, so anyone can forge one; small or even
 * exponents are never produced by sound key generation. EC and OKP points are already checked on import.
 */
export function weakKeyReason(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'rsa-pss') return undefined;
  const details = key.asymmetricKeyDetails;
  const bits = details?.modulusLength ?? 0;
  if (bits < MIN_RSA_MODULUS_BITS) {
    return `RSA modulus of ${bits} bits is shorter than ${MIN_RSA_MODULUS_BITS} (RFC 7518 §3.3)`;
  }
  const e = details?.publicExponent;
  if (e === undefined || e < MIN_RSA_EXPONENT || e >= MAX_RSA_EXPONENT || e % 2n === 0n) {
    return 'RSA public exponent must be odd, at least 65537 and below 2^256';
  }
  return undefined;
}

/** Bytes of the hash output of an HMAC `alg` (RFC 7518 §3.2: the key must be at least this long). */
export function hmacKeyBytes(alg: string): number {
  return Number(alg.slice(2)) / 8;
}
