/** Placeholder shown instead of a secret value. */
export const REDACTED = '[redacted]';

/**
 * Keys whose values are secrets wherever they appear in the config: tokens, passwords, keys, client secrets,
 * credentials, and header names that carry credentials.
 */
const SECRET_NAME =
  /^(tokens?|secrets?|passwords?|passwordHashes|passphrase|keys|privateKey|clientSecret|apiKeys?|authorization|cookie|x-api-key|credentials?)$/i;
/** camelCase names ending in a secret word: `accessToken`, `nonceSecret`, `hmacSecrets`, `clientPrivateKey`. */
const SECRET_SUFFIX = /[a-z](Token|Secrets?|Password|Passphrase|PrivateKey|ApiKey)$/;

function isSecretKey(k: string): boolean {
  return SECRET_NAME.test(k) || SECRET_SUFFIX.test(k);
}

function redactUrl(value: string): string {
  // Connection URLs (redis://user:pass@host) carry passwords in their userinfo.
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(value)) return value;
  try {
    const u = new URL(value);
    if (u.password === '' && u.username === '') return value;
    if (u.password !== '') u.password = 'redacted';
    return u.toString();
  } catch {
    return REDACTED;
  }
}

/** Secret names whose value is hidden whole even when it is an object (a private JWK, a credentials block). */
const ALWAYS_WHOLE =
  /^(secrets?|passwords?|passphrase|privateKey|clientSecret|credentials?)$|(Secrets?|Password|PrivateKey)$/;
/** Private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const JWK_PRIVATE = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

function hidesWhole(key: string, value: unknown): boolean {
  if (value === null || typeof value !== 'object' || ALWAYS_WHOLE.test(key)) return true;
  // `apiKey: { consumers: [...] }` or `keys: [jwk, ...]` hold structure worth showing: look inside instead.
  return Array.isArray(value) && !value.some((v) => v !== null && typeof v === 'object');
}

/**
 * Returns a deep copy of a config with every secret replaced by `[redacted]`: values under secret-named keys
 * (at any depth; objects under names like `apiKey` are searched instead), private JWK members, and passwords
 * inside connection URLs.
 */
export function redactConfig(value: unknown, depth = 0): unknown {
  if (depth > 64) return REDACTED;
  if (typeof value === 'string') return redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const isJwk = typeof (value as Record<string, unknown>).kty === 'string';
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || v === null) out[k] = v;
    else if ((isJwk && JWK_PRIVATE.has(k)) || (isSecretKey(k) && hidesWhole(k, v))) out[k] = REDACTED;
    else out[k] = redactConfig(v, depth + 1);
  }
  return out;
}
