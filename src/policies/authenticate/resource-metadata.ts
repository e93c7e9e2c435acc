import type { ApiDocument } from '../../core/api-document.ts';
import type { ApiConfig } from '../../core/config.ts';
import { PolicyConfigError, type WellKnownDocument } from '../../core/policy.ts';
import { withDefaults } from '../../core/policy-config.ts';
import {
  type AuthenticateConfig,
  dpopSchema,
  type ResourceMetadataConfig,
  resourceMetadataSchema,
  schemeBindingSchema,
} from './schema.ts';

/** RFC 9728 §3: the well-known URI suffix of protected resource metadata. */
const SUFFIX = '/.well-known/oauth-protected-resource';

/** Where the metadata of a resource lives: its URL and the request path on the resource's host. */
export interface MetadataLocation {
  readonly url: string;
  readonly path: string;
  readonly host: string;
}

/**
 * RFC 9728 §3.1: the suffix goes between the host and the path of the resource identifier, e.g.
 * `https://api.example.com/orders` → `https://api.example.com/.well-known/oauth-protected-resource/orders`.
 * Throws PolicyConfigError for identifiers this gateway cannot serve metadata for.
 */
export function metadataLocation(resource: string): MetadataLocation {
  const at = 'resourceMetadata.resource';
  let u: URL;
  try {
    u = new URL(resource);
  } catch {
    throw new PolicyConfigError(at, `${resource} is not a URL`);
  }
  // §2: a URL that uses the https scheme and has no fragment component.
  if (u.protocol !== 'https:') throw new PolicyConfigError(at, 'the resource identifier must use https');
  if (u.hash !== '' || resource.includes('#')) {
    throw new PolicyConfigError(at, 'the resource identifier must have no fragment');
  }
  if (u.search !== '' || resource.includes('?')) {
    throw new PolicyConfigError(at, 'a resource identifier with a query component is not supported');
  }
  if (u.username !== '' || u.password !== '') {
    throw new PolicyConfigError(at, 'the resource identifier must carry no user information');
  }
  // §3.1: a terminating slash after the host is removed before the suffix is inserted.
  const path = u.pathname === '/' ? '' : u.pathname;
  return { url: `${u.origin}${SUFFIX}${path}`, path: `${SUFFIX}${path}`, host: u.hostname.toLowerCase() };
}

const TOKEN_SCHEME_TYPES = new Set(['oauth2', 'openIdConnect']);

function isTokenScheme(spec: ApiDocument, name: string): boolean {
  const s = spec.securitySchemes[name];
  if (s === undefined) return false;
  return (
    TOKEN_SCHEME_TYPES.has(s.type) ||
    (s.type === 'http' && String(s.raw.scheme ?? '').toLowerCase() === 'bearer')
  );
}

/** Every scope the spec's effective security requirements name for token schemes, in first-seen order. */
export function specScopes(spec: ApiDocument): string[] {
  const scopes = new Set<string>();
  for (const op of spec.operations) {
    for (const req of op.security ?? []) {
      for (const [name, list] of Object.entries(req)) {
        if (isTokenScheme(spec, name)) for (const s of list) scopes.add(s);
      }
    }
  }
  return [...scopes];
}

const isHttpUrl = (s: string) => /^https?:\/\/[^\s]+$/.test(s);

/**
 * The RFC 9728 §2 metadata document of an API: configured values first, then what the authenticate
 * config and the spec say (authorization servers from the verifiers' issuers, scopes from the security
 * requirements, certificate binding and DPoP from the scheme bindings).
 */
export function protectedResourceMetadata(
  meta: ResourceMetadataConfig,
  config: Partial<AuthenticateConfig>,
  spec: ApiDocument,
): Record<string, unknown> {
  // Blocks before the gateway filled their defaults: each is read through withDefaults.
  const bindings = Object.entries(config.schemes ?? {}).map(
    ([name, b]) => [name, withDefaults(schemeBindingSchema, b)] as const,
  );
  const tokenBindings = bindings.filter(([, b]) => b.jwt !== undefined || b.introspection !== undefined);

  const issuers = new Set<string>();
  for (const [, b] of tokenBindings) {
    for (const i of b.jwt?.issuers ?? []) if (isHttpUrl(i.issuer)) issuers.add(i.issuer);
    const introspected = b.introspection?.issuer;
    if (introspected !== undefined && isHttpUrl(introspected)) issuers.add(introspected);
  }
  const authorizationServers = meta.authorizationServers ?? [...issuers];
  const scopes = meta.scopesSupported ?? specScopes(spec);
  const certificateBound =
    meta.tlsClientCertificateBoundAccessTokens ?? bindings.some(([, b]) => b.certificateBound);
  const dpopBindings = tokenBindings.filter(([, b]) => b.dpop !== undefined);
  const dpopRequired =
    meta.dpopBoundAccessTokensRequired ??
    (tokenBindings.length > 0 &&
      tokenBindings.every(([, b]) => b.dpop !== undefined && withDefaults(dpopSchema, b.dpop).required));
  const dpopAlgs = new Set<string>();
  for (const [, b] of dpopBindings)
    for (const a of withDefaults(dpopSchema, b.dpop!).algorithms) dpopAlgs.add(a);

  // Members in the order of RFC 9728 §2; optional ones only when they say something.
  const doc: Record<string, unknown> = { resource: meta.resource };
  if (authorizationServers.length > 0) doc.authorization_servers = authorizationServers;
  if (scopes.length > 0) doc.scopes_supported = scopes;
  doc.bearer_methods_supported = withDefaults(resourceMetadataSchema, meta).bearerMethodsSupported;
  if (meta.resourceName !== undefined) doc.resource_name = meta.resourceName;
  if (meta.resourceDocumentation !== undefined) doc.resource_documentation = meta.resourceDocumentation;
  if (meta.resourcePolicyUri !== undefined) doc.resource_policy_uri = meta.resourcePolicyUri;
  if (meta.resourceTosUri !== undefined) doc.resource_tos_uri = meta.resourceTosUri;
  if (certificateBound) doc.tls_client_certificate_bound_access_tokens = true;
  if (dpopAlgs.size > 0) {
    doc.dpop_signing_alg_values_supported = [...dpopAlgs];
  }
  if (dpopRequired) doc.dpop_bound_access_tokens_required = true;
  return doc;
}

/**
 * The well-known documents of the authenticate policy for one API: its protected resource metadata, if
 * `resourceMetadata` is set at API level. Operation-level `resourceMetadata` is refused, since one API has
 * one metadata document.
 */
export function resourceMetadataDocuments(
  config: Partial<AuthenticateConfig> | undefined,
  api: ApiConfig,
  spec: ApiDocument,
): WellKnownDocument[] {
  for (const [id, op] of Object.entries(api.operations)) {
    const own = op.policies?.authenticate as Partial<AuthenticateConfig> | undefined;
    if (own?.resourceMetadata !== undefined) {
      throw new PolicyConfigError(
        'resourceMetadata',
        `operation ${id} sets resourceMetadata; set it once for the API`,
      );
    }
  }
  const meta = config?.resourceMetadata;
  if (meta === undefined || (config as { enabled?: boolean }).enabled === false) return [];
  const where = metadataLocation(meta.resource);
  if (api.hosts.length > 0 && !api.hosts.some((h) => h.toLowerCase() === where.host)) {
    throw new PolicyConfigError(
      'resourceMetadata.resource',
      `the resource host ${where.host} is not one of the API's hosts (${api.hosts.join(', ')}); clients fetch the metadata from it`,
    );
  }
  return [
    {
      path: where.path,
      contentType: 'application/json',
      body: JSON.stringify(protectedResourceMetadata(meta, config!, spec)),
      maxAgeSeconds: withDefaults(resourceMetadataSchema, meta).cacheMaxAgeSeconds,
    },
  ];
}
