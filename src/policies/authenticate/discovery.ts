import { fetchJson, IdentityFetchError } from './fetch-json.ts';

/** Authorization server metadata members the gateway uses. */
export interface ServerMetadata {
  readonly issuer: string;
  readonly jwks_uri?: string;
  readonly introspection_endpoint?: string;
}

/**
 * Fetches an issuer's metadata: OpenID Connect Discovery (`/.well-known/openid-configuration` appended),
 * then RFC 8414 (`/.well-known/oauth-authorization-server` inserted before the path). The metadata
 * `issuer` must equal the configured one exactly (RFC 8414 §3.3), or it is not used.
 */
export async function discoverMetadata(issuer: string, timeoutMs: number): Promise<ServerMetadata> {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  const candidates = [
    `${u.origin}${path}/.well-known/openid-configuration`,
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
  ];
  let lastError: unknown;
  for (const url of candidates) {
    try {
      const res = await fetchJson(url, { timeoutMs, maxBytes: 256 * 1024 });
      if (res.status !== 200 || res.body === null || typeof res.body !== 'object') {
        lastError = new IdentityFetchError(`${url} answered ${res.status}`);
        continue;
      }
      const md = res.body as Record<string, unknown>;
      if (md.issuer !== issuer) {
        throw new IdentityFetchError(`metadata at ${url} names another issuer`);
      }
      return md as unknown as ServerMetadata;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof IdentityFetchError
    ? lastError
    : new IdentityFetchError(`discovery failed for ${issuer}`, { cause: lastError });
}

/** The issuer's `jwks_uri`, from its metadata. */
export async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<string> {
  const md = await discoverMetadata(issuer, timeoutMs);
  if (typeof md.jwks_uri !== 'string' || !/^https?:\/\//.test(md.jwks_uri)) {
    throw new IdentityFetchError(`metadata of ${issuer} has no usable jwks_uri`);
  }
  return md.jwks_uri;
}
