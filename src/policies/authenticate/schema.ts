import type { SparseConfigOf } from '../../core/policy-config.ts';

const stringItems = { type: 'string', minLength: 1 } as const;

interface StringList {
  readonly type: 'array';
  readonly items: typeof stringItems;
  readonly description: string;
}
function stringList(description: string): StringList;
function stringList<const D extends readonly string[]>(
  description: string,
  dflt: D,
): StringList & { readonly default: D };
function stringList(description: string, dflt?: readonly string[]): StringList {
  return { type: 'array', items: stringItems, description, ...(dflt === undefined ? {} : { default: dflt }) };
}

const seconds = (description: string, dflt: number, minimum: number, maximum: number) =>
  ({
    type: 'integer',
    minimum,
    maximum,
    default: dflt,
    description,
  }) as const;

/** Asymmetric algorithms a JWT issuer or DPoP proof may use; HMAC is allowed only with `secrets`. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
const HMAC = ['HS256', 'HS384', 'HS512'] as const;
/** The HMAC algorithms, allowed only for an issuer with `secrets`. */
export const HMAC_ALGORITHMS: readonly string[] = HMAC;

const consumerProps = {
  name: { type: 'string', minLength: 1, description: 'Consumer name, used as the principal subject.' },
  roles: stringList('Roles granted to this consumer.', []),
  metadata: {
    type: 'object',
    description: 'Free-form data exposed to rules as `principal.claims`.',
    default: {},
  },
} as const;

/** The fields every kind of consumer has, as an object schema (for their defaults). */
export const consumerSchema = { properties: consumerProps } as const;

export const issuerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'audiences'],
  description:
    'A trusted issuer. Keys come from discovery, `jwksUri`, static `keys` or HMAC `secrets` — never from the token.',
  properties: {
    issuer: { type: 'string', minLength: 1, description: 'Exact `iss` value (RFC 8725 §3.8).' },
    discovery: {
      type: 'boolean',
      default: false,
      description:
        'Find `jwks_uri` from OpenID Connect discovery (or RFC 8414 metadata) of `issuer`; the metadata issuer must match exactly.',
    },
    jwksUri: { type: 'string', pattern: '^https?://', description: 'URL of the issuer JWKS.' },
    keys: {
      type: 'array',
      items: { type: 'object' },
      description:
        'Static public JWKs. RSA keys need at least 2048 bits and an odd exponent of at least 65537; one key per `kid`.',
    },
    secrets: {
      type: 'array',
      description:
        'HMAC secrets; only these make HS256/384/512 acceptable. Each is at least as long as the hash of the longest HS algorithm allowed: 32 bytes for HS256, 48 for HS384, 64 for HS512 (RFC 7518 §3.2).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['secret'],
        properties: {
          kid: { type: 'string', description: 'Key id the token header must name, if set.' },
          secret: {
            type: 'string',
            minLength: 32,
            description: 'The shared secret (use environment substitution).',
          },
        },
      },
    },
    audiences: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      description: 'Accepted `aud` values; the token must name at least one (RFC 8725 §3.9).',
    },
    algorithms: {
      type: 'array',
      minItems: 1,
      items: { enum: [...ASYMMETRIC_ALGORITHMS, ...HMAC] },
      default: ['RS256'],
      description: 'Accepted `alg` values (the allowlist; `none` can never be listed).',
    },
    clockSkewSeconds: seconds('Tolerance for `exp`, `nbf` and `iat`.', 30, 0, 300),
    requiredClaims: stringList('Claims that must be present besides `exp`.', []),
    typ: {
      type: 'string',
      description:
        'Required `typ` header, e.g. `at+jwt` for RFC 9068 access tokens (`application/` prefix accepted).',
    },
    maxTokenAgeSeconds: {
      type: 'integer',
      minimum: 1,
      description: 'Refuse tokens whose `iat` is older than this.',
    },
    rolesClaim: {
      type: 'string',
      default: 'roles',
      description: 'Claim (dotted path) holding the caller roles.',
    },
    jwksCacheSeconds: seconds('Longest time a fetched JWKS is used before refreshing.', 600, 60, 86400),
    jwksCooldownSeconds: seconds(
      'Minimum time between refetches for an unknown `kid` or while down.',
      30,
      0,
      3600,
    ),
    timeoutMs: {
      type: 'integer',
      minimum: 100,
      default: 5000,
      description: 'Deadline for discovery and JWKS fetches.',
    },
  },
} as const;

export const jwtSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['issuers'],
  description: 'Verify bearer tokens as JWTs (RFC 7519, RFC 9068, RFC 8725).',
  properties: {
    issuers: {
      type: 'array',
      minItems: 1,
      items: issuerSchema,
      description: 'Trusted issuers, matched by `iss`.',
    },
    maxTokenBytes: { type: 'integer', minimum: 256, default: 8192, description: 'Longest token accepted.' },
    tokenCacheMaxEntries: {
      type: 'integer',
      minimum: 0,
      default: 10000,
      description: 'Verified tokens kept (until their `exp`); 0 disables the cache.',
    },
  },
} as const;

/** Algorithms of `private_key_jwt` client assertions. */
export const CLIENT_ASSERTION_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

export const privateKeyJwtSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['alg'],
  description:
    'The signing key of `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): each introspection call sends a fresh assertion signed with it. Give `keyFile` or `key`.',
  properties: {
    keyFile: {
      type: 'string',
      minLength: 1,
      description: 'PEM file of the private key (PKCS#8, or PKCS#1/SEC1), relative to the config file.',
    },
    key: {
      type: 'object',
      description: 'The private key as a JWK (use environment substitution for its private members).',
    },
    kid: {
      type: 'string',
      minLength: 1,
      description:
        'Key id put in the assertion header, as registered with the authorization server (default: the `kid` of `key`, if any).',
    },
    alg: {
      enum: [...CLIENT_ASSERTION_ALGORITHMS],
      description:
        'Signature algorithm; it must fit the key (RSA for RS256/PS256, P-256 for ES256, Ed25519 for EdDSA).',
    },
    audience: {
      type: 'string',
      pattern: '^https?://',
      description:
        'The assertion `aud` (default: the introspection endpoint URL). Set the issuer identifier for servers that expect it.',
    },
    assertionLifetimeSeconds: seconds('Lifetime of each assertion (`exp` - `iat`).', 60, 10, 300),
  },
} as const;

export const introspectionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'clientId'],
  description: 'Verify opaque bearer tokens with OAuth 2.0 token introspection (RFC 7662).',
  properties: {
    endpoint: { type: 'string', pattern: '^https?://', description: 'Introspection endpoint URL.' },
    clientId: { type: 'string', minLength: 1, description: 'Client id the gateway authenticates with.' },
    clientSecret: {
      type: 'string',
      minLength: 1,
      description:
        'Client secret (use environment substitution); required with `client_secret_basic` and `client_secret_post`.',
    },
    authMethod: {
      enum: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      default: 'client_secret_basic',
      description: 'How the gateway authenticates to the endpoint.',
    },
    privateKeyJwt: privateKeyJwtSchema,
    issuer: { type: 'string', description: 'If set, an `iss` in the answer must equal it.' },
    audiences: stringList('If set, the answer must carry an `aud` naming one of these.'),
    rolesClaim: {
      type: 'string',
      default: 'roles',
      description: 'Member (dotted path) holding the caller roles.',
    },
    cacheSeconds: seconds('How long an active answer is reused (never beyond its `exp`).', 60, 0, 3600),
    negativeCacheSeconds: seconds('How long an inactive answer is reused.', 10, 0, 300),
    maxCacheEntries: {
      type: 'integer',
      minimum: 0,
      default: 10000,
      description: 'Bound of the answer cache.',
    },
    maxTokenBytes: { type: 'integer', minimum: 16, default: 8192, description: 'Longest token accepted.' },
    timeoutMs: {
      type: 'integer',
      minimum: 100,
      default: 5000,
      description: 'Deadline for the introspection call.',
    },
  },
} as const;

export const apiKeySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['consumers'],
  description:
    'API keys, located as the spec `apiKey` scheme says (header, query or cookie); stored as hashes.',
  properties: {
    consumers: {
      type: 'array',
      description: 'Key holders. Several keys per consumer allow rotation without downtime.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'keys'],
        properties: {
          ...consumerProps,
          keys: {
            type: 'array',
            minItems: 1,
            items: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
            description: 'SHA-256 hashes of the live keys, as printed by `portcullis key create`.',
          },
        },
      },
    },
    runtimeKeys: {
      type: 'boolean',
      default: false,
      description: 'Also accept keys registered at runtime in the state store (shared by all instances).',
    },
  },
} as const;

export const basicSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['consumers'],
  description:
    'HTTP Basic authentication (RFC 7617) for `type: http, scheme: basic` schemes. Passwords are stored as scrypt hashes only.',
  properties: {
    consumers: {
      type: 'array',
      description: 'Users. Several hashes per consumer allow rotating a password without downtime.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'passwordHashes'],
        properties: {
          ...consumerProps,
          name: {
            type: 'string',
            minLength: 1,
            maxLength: 256,
            pattern: '^[^:\\u0000-\\u001f\\u007f-\\u009f]+$',
            description:
              'The user-id of the Basic credentials (no `:` or control characters; compared after NFC normalisation), used as the principal subject.',
          },
          passwordHashes: {
            type: 'array',
            minItems: 1,
            maxItems: 4,
            items: { type: 'string', pattern: '^scrypt\\$' },
            description: 'scrypt hashes of the live passwords, as printed by `portcullis password hash`.',
          },
        },
      },
    },
    allowPlainHttp: {
      type: 'boolean',
      default: false,
      description:
        'Accept Basic credentials on requests that did not arrive over HTTPS (directly or per a trusted proxy). Only for local trials.',
    },
    forwardAuthorization: {
      type: 'boolean',
      default: false,
      description:
        'Forward the `Authorization: Basic` header, password included, to the upstream. By default it is removed once verified; the upstream learns who called from the identity headers.',
    },
    cacheSeconds: seconds(
      'How long a verified user-id and password pair is remembered, so repeat requests skip scrypt; 0 disables.',
      60,
      0,
      600,
    ),
    cacheMaxEntries: {
      type: 'integer',
      minimum: 0,
      default: 10000,
      description: 'Bound of the cache of verified credentials (failures are never cached).',
    },
    maxConcurrentHashes: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      default: 2,
      description:
        'scrypt verifications running at once (they use the libuv thread pool, 4 threads by default, shared with file and DNS work).',
    },
    maxQueuedHashes: {
      type: 'integer',
      minimum: 0,
      maximum: 10000,
      default: 64,
      description: 'Verifications waiting for a slot; past this the request gets 503 (`basic_overloaded`).',
    },
  },
} as const;

export const mtlsSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Client certificates verified by the TLS listener (`clientAuth`), or taken from a trusted proxy with `clientCertHeader`, mapped to consumers.',
  properties: {
    consumers: {
      type: 'array',
      default: [],
      description: 'Certificate holders, matched by subject or subjectAltName.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          ...consumerProps,
          subject: {
            type: 'string',
            description: 'Subject attributes that must all match, e.g. `CN=billing,O=Example`.',
          },
          san: {
            type: 'string',
            description: 'A subjectAltName entry, e.g. `DNS:billing.internal` or `URI:spiffe://x/y`.',
          },
        },
      },
    },
    allowUnmapped: {
      type: 'boolean',
      default: false,
      description: 'Accept a valid certificate that maps to no consumer (subject = certificate CN).',
    },
  },
} as const;

export const dpopSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Accept DPoP-bound tokens (RFC 9449) with `Authorization: DPoP`.',
  properties: {
    required: { type: 'boolean', default: false, description: 'Refuse tokens that are not DPoP-bound.' },
    algorithms: {
      type: 'array',
      minItems: 1,
      items: { enum: ASYMMETRIC_ALGORITHMS },
      default: ['ES256', 'PS256', 'RS256', 'EdDSA'],
      description: 'Accepted proof algorithms (asymmetric only).',
    },
    iatWindowSeconds: seconds('How old a proof may be.', 300, 1, 3600),
    clockSkewSeconds: seconds('How far in the future a proof `iat` may be.', 30, 0, 300),
    requireNonce: {
      type: 'boolean',
      default: false,
      description: 'Require a server-provided nonce (RFC 9449 §8).',
    },
    nonceSecret: {
      type: 'string',
      minLength: 32,
      description: 'Key deriving nonces; set the same on every instance (random per process otherwise).',
    },
    maxProofBytes: { type: 'integer', minimum: 256, default: 4096, description: 'Longest proof accepted.' },
  },
} as const;

const httpsUrl = (description: string) =>
  ({
    type: 'string',
    pattern: '^https://[^#]+$',
    description,
  }) as const;

export const resourceMetadataSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['resource'],
  description:
    'Publish OAuth 2.0 Protected Resource Metadata (RFC 9728) for this API at `/.well-known/oauth-protected-resource` + the resource path, and name it in every Bearer and DPoP challenge (`resource_metadata`). API level only.',
  properties: {
    resource: httpsUrl(
      'The resource identifier clients use, e.g. `https://api.example.com/orders` (https, no query or fragment). Its path decides where the metadata is served.',
    ),
    authorizationServers: {
      type: 'array',
      items: { type: 'string', pattern: '^https?://' },
      description:
        'Issuer identifiers of the authorization servers (default: the `issuer` of every `jwt` issuer and `introspection` verifier that is a URL).',
    },
    scopesSupported: stringList(
      'Scopes advertised (default: every scope named in the security requirements of the spec for token schemes).',
    ),
    bearerMethodsSupported: {
      type: 'array',
      items: { enum: ['header'] },
      default: ['header'],
      description:
        'How bearer tokens may be sent (`header` is the only way the gateway reads them; `[]` says none).',
    },
    resourceName: { type: 'string', minLength: 1, description: 'Human-readable name of the API.' },
    resourceDocumentation: httpsUrl('URL of the API documentation for developers.'),
    resourcePolicyUri: httpsUrl('URL of the data-use policy of the API.'),
    resourceTosUri: httpsUrl('URL of the terms of service of the API.'),
    tlsClientCertificateBoundAccessTokens: {
      type: 'boolean',
      description:
        'Advertise RFC 8705 certificate-bound tokens (default: true when a scheme sets `certificateBound`).',
    },
    dpopBoundAccessTokensRequired: {
      type: 'boolean',
      description:
        'Advertise that DPoP-bound tokens are always required (default: true when every token scheme sets `dpop.required`).',
    },
    cacheMaxAgeSeconds: seconds('`Cache-Control: max-age` of the metadata document.', 3600, 0, 86400),
  },
} as const;

export const clientCertHeaderSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Accept client certificates from a TLS-terminating proxy in the RFC 9440 `Client-Cert` (and `Client-Cert-Chain`) header, only from peers in `server.trustedProxies`; the gateway verifies the chain itself. Used by `mtls` schemes and certificate-bound tokens. Give `caFile` or `ca`.',
  properties: {
    caFile: {
      type: 'string',
      minLength: 1,
      description:
        'PEM file of the CA certificates client certificates must chain to (relative to the config file).',
    },
    ca: { type: 'string', minLength: 1, description: 'The same CA certificates as inline PEM.' },
    maxChainCertificates: {
      type: 'integer',
      minimum: 0,
      maximum: 10,
      default: 4,
      description: 'Most intermediate certificates read from `Client-Cert-Chain`; more is refused.',
    },
    maxHeaderBytes: {
      type: 'integer',
      minimum: 1024,
      maximum: 65536,
      default: 16384,
      description: 'Longest `Client-Cert` (and, separately, `Client-Cert-Chain`) value accepted.',
    },
  },
} as const;

const headerName = (description: string, dflt: string) =>
  ({
    type: 'string',
    pattern: '^[A-Za-z0-9-]*$',
    description: `${description} Empty: not forwarded.`,
    default: dflt,
  }) as const;

/** How one `securitySchemes` entry of the spec is verified. */
export const schemeBindingSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Exactly one of `jwt`, `introspection`, `apiKey`, `basic`, `mtls`.',
  properties: {
    jwt: jwtSchema,
    introspection: introspectionSchema,
    apiKey: apiKeySchema,
    basic: basicSchema,
    mtls: mtlsSchema,
    dpop: dpopSchema,
    certificateBound: {
      type: 'boolean',
      default: false,
      description: 'Require tokens bound to the TLS client certificate (RFC 8705 `cnf.x5t#S256`).',
    },
  },
} as const;

export const forwardIdentitySchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Headers set on the upstream request; incoming headers of the same names are always removed first.',
  properties: {
    subjectHeader: headerName('Header carrying the principal subject.', 'X-Portcullis-Subject'),
    consumerHeader: headerName('Header carrying the consumer name.', 'X-Portcullis-Consumer'),
    scopesHeader: headerName('Header carrying the granted scopes, space-separated.', 'X-Portcullis-Scopes'),
    rolesHeader: headerName('Header carrying the roles, space-separated.', 'X-Portcullis-Roles'),
    methodHeader: headerName('Header carrying the authentication method, e.g. X-Portcullis-Auth-Method.', ''),
    claimHeaders: {
      type: 'object',
      additionalProperties: { type: 'string' },
      default: {},
      description: 'Header name → claim name, e.g. `X-User-Email: email`.',
    },
  },
} as const;

export const authenticateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['schemes'],
  description: "Enforces each operation's OpenAPI `security` with the verifiers bound to its schemes.",
  properties: {
    realm: {
      type: 'string',
      description: 'Realm of the `WWW-Authenticate` challenges (default: the API name).',
    },
    schemes: {
      type: 'object',
      description: 'Verifier for each `securitySchemes` name of the spec.',
      additionalProperties: schemeBindingSchema,
    },
    public: stringList('Operations (operationId) that may run with no declared `security`.', []),
    allowUndeclaredSecurity: {
      type: 'boolean',
      default: false,
      description: 'Let every operation without declared `security` through anonymously (not recommended).',
    },
    forwardIdentity: forwardIdentitySchema,
    resourceMetadata: resourceMetadataSchema,
    clientCertHeader: clientCertHeaderSchema,
  },
} as const;

// The types below are read from the schemas above (src/core/policy-config.ts). A field with a default may
// be absent in all of them: `wellKnown` and `ownedRequestHeaders` see blocks before defaults are filled,
// and tests build verifiers directly. Each verifier fills the defaults of its own block from the schema
// above (`withDefaults`), so every default is written once, here.

/** The `authenticate` config. */
export type AuthenticateConfig = SparseConfigOf<typeof authenticateSchema>;
/** How one `securitySchemes` entry of the spec is verified. Exactly one verifier per scheme. */
export type SchemeBinding = AuthenticateConfig['schemes'][string];
export type JwtConfig = NonNullable<SchemeBinding['jwt']>;
/** One trusted token issuer of a `jwt` verifier. */
export type JwtIssuerConfig = JwtConfig['issuers'][number];
export type IntrospectionConfig = NonNullable<SchemeBinding['introspection']>;
/** RFC 7523 §2.2 client authentication with a signed assertion (`private_key_jwt`). */
export type PrivateKeyJwtConfig = NonNullable<IntrospectionConfig['privateKeyJwt']>;
export type ApiKeyConfig = NonNullable<SchemeBinding['apiKey']>;
export type BasicConfig = NonNullable<SchemeBinding['basic']>;
export type MtlsConfig = NonNullable<SchemeBinding['mtls']>;
export type DpopConfig = NonNullable<SchemeBinding['dpop']>;
/** What every kind of consumer has: a name, roles and free-form metadata. */
export type ConsumerConfig = Pick<ApiKeyConfig['consumers'][number], 'name' | 'roles' | 'metadata'>;
export type ForwardIdentityConfig = NonNullable<AuthenticateConfig['forwardIdentity']>;
/** RFC 9728 OAuth 2.0 Protected Resource Metadata of the API. */
export type ResourceMetadataConfig = NonNullable<AuthenticateConfig['resourceMetadata']>;
/** RFC 9440 client certificates passed on by a trusted TLS-terminating proxy. */
export type ClientCertHeaderConfig = NonNullable<AuthenticateConfig['clientCertHeader']>;
