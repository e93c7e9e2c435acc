import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
// @ts-expect-error oidc-provider ships no type declarations; the few members used are typed below.
import ProviderImport from 'oidc-provider';

/** The demo users: each is a confidential client whose client-credentials tokens carry its name and roles. */
export const DEMO_USERS = {
  alice: { roles: ['user'], scopes: ['shop:read', 'shop:write'] },
  bob: { roles: ['user'], scopes: ['shop:read', 'shop:write'] },
  admin: { roles: ['admin'], scopes: ['shop:read', 'shop:write', 'shop:admin'] },
} as const;
export type DemoUser = keyof typeof DEMO_USERS;

/** Client the gateway uses for token introspection. */
export const GATEWAY_CLIENT = { clientId: 'portcullis-gateway', clientSecret: 'portcullis-gateway-secret' };

/** Resource indicator of opaque tokens (verified by introspection instead of as JWTs). */
export const OPAQUE_RESOURCE = 'urn:portcullis:opaque';

export interface DemoIdpOptions {
  readonly port?: number;
  readonly host?: string;
  /** Resource (audience) of the JWT access tokens: the protected API. */
  readonly audience?: string;
  /** Lifetime of access tokens. */
  readonly accessTokenSeconds?: number;
  /**
   * More clients allowed to introspect every token besides the gateway client, as oidc-provider client
   * metadata (e.g. one with `token_endpoint_auth_method: private_key_jwt` and its public `jwks`).
   */
  readonly introspectionClients?: ReadonlyArray<Record<string, unknown>>;
}

export interface DemoIdp {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly introspectionEndpoint: string;
  readonly jwksUri: string;
  readonly audience: string;
  /** Gets a JWT access token for a demo user (client credentials with the API as resource). */
  tokenFor(user: DemoUser, opts?: { scope?: string; resource?: string; dpop?: string }): Promise<string>;
  /** The `curl` command that gets a token for a user, for people trying the demo. */
  curlFor(user: DemoUser): string;
  close(): Promise<void>;
}

interface ProviderLike {
  callback(): (req: unknown, res: unknown) => void;
}
const Provider = ProviderImport as new (issuer: string, config: Record<string, unknown>) => ProviderLike;

/**
 * A small per-provider storage adapter for oidc-provider: bounded maps with expiry, so the demo keeps no
 * module-level state and prints no warning about the development adapter.
 */
function createMemoryAdapter() {
  const MAX = 10_000;
  const models = new Map<string, Map<string, { payload: Record<string, unknown>; expiresAt: number }>>();
  return class MemoryAdapter {
    readonly store: Map<string, { payload: Record<string, unknown>; expiresAt: number }>;
    constructor(name: string) {
      let m = models.get(name);
      if (m === undefined) {
        m = new Map();
        models.set(name, m);
      }
      this.store = m;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      if (this.store.size >= MAX) this.store.delete(this.store.keys().next().value as string);
      this.store.set(id, {
        payload,
        expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY,
      });
    }
    async find(id: string) {
      const e = this.store.get(id);
      if (e === undefined) return undefined;
      if (e.expiresAt <= Date.now()) {
        this.store.delete(id);
        return undefined;
      }
      return e.payload;
    }
    async findByUid(uid: string) {
      for (const [id, e] of this.store) if (e.payload.uid === uid) return this.find(id);
      return undefined;
    }
    async findByUserCode(code: string) {
      for (const [id, e] of this.store) if (e.payload.userCode === code) return this.find(id);
      return undefined;
    }
    async consume(id: string) {
      const e = this.store.get(id);
      if (e !== undefined) e.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      this.store.delete(id);
    }
    async revokeByGrantId(grantId: string) {
      for (const [id, e] of this.store) if (e.payload.grantId === grantId) this.store.delete(id);
    }
  };
}

/** Client secret of a demo user (the demo is local; these are not secrets). */
export function demoSecret(user: DemoUser): string {
  return `${user}-secret`;
}

/**
 * Starts a real OAuth 2.0 / OpenID Connect provider (`oidc-provider`) for the demo and tests: users alice,
 * bob (role user, scopes shop:read shop:write) and admin (role admin, also shop:admin) get JWT access
 * tokens (RFC 9068, RS256, `sub` = user name) with one curl each;
 * tokens for the opaque resource are verified by introspection; DPoP-bound tokens are supported.
 *
 * @example
 * const idp = await startDemoIdp({ port: 0 });
 * const token = await idp.tokenFor('alice');
 */
export async function startDemoIdp(opts: DemoIdpOptions = {}): Promise<DemoIdp> {
  const host = opts.host ?? '127.0.0.1';
  const audience = opts.audience ?? 'http://localhost:8080';
  const scopeList = [...new Set(Object.values(DEMO_USERS).flatMap((u) => u.scopes))];
  const scopes = scopeList.join(' ');
  const scopesOf = (u: DemoUser) => DEMO_USERS[u].scopes.join(' ');
  let handler: ((req: unknown, res: unknown) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (handler === undefined) res.writeHead(503).end();
    else handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: `demo-${Date.now().toString(36)}`,
    alg: 'RS256',
    use: 'sig',
  };
  const users = Object.keys(DEMO_USERS) as DemoUser[];
  const clients = [
    ...users.map((u) => ({
      client_id: u,
      client_secret: demoSecret(u),
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: scopesOf(u),
    })),
    {
      client_id: GATEWAY_CLIENT.clientId,
      client_secret: GATEWAY_CLIENT.clientSecret,
      grant_types: [],
      redirect_uris: [],
      response_types: [],
    },
    ...(opts.introspectionClients ?? []).map((c) => ({
      grant_types: [],
      redirect_uris: [],
      response_types: [],
      ...c,
    })),
  ];
  const introspectors = new Set([
    GATEWAY_CLIENT.clientId,
    ...(opts.introspectionClients ?? []).map((c) => String(c.client_id)),
  ]);
  const ttl = opts.accessTokenSeconds ?? 3600;
  const provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    clients,
    scopes: ['openid', ...scopeList],
    jwks: { keys: [signingKey] },
    ttl: { ClientCredentials: ttl },
    cookies: { keys: [Buffer.from(signingKey.kid).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Only the gateway clients (or the token's own client) may introspect (RFC 7662 §4).
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
          introspectors.has(client.clientId) || client.clientId === token.clientId,
      },
      dPoP: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
          client.clientId === token.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource === OPAQUE_RESOURCE) {
            return {
              scope: scopes,
              audience: OPAQUE_RESOURCE,
              accessTokenFormat: 'opaque',
              accessTokenTTL: ttl,
            };
          }
          return {
            scope: scopes,
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => {
      const user = DEMO_USERS[token.clientId as DemoUser];
      return user === undefined ? undefined : { roles: [...user.roles] };
    },
  });
  handler = provider.callback();

  const tokenEndpoint = `${issuer}/token`;
  return {
    issuer,
    tokenEndpoint,
    introspectionEndpoint: `${issuer}/token/introspection`,
    jwksUri: `${issuer}/jwks`,
    audience,
    async tokenFor(user, o = {}) {
      const body = new URLSearchParams({
        grant_type: 'client_credentials',
        scope: o.scope ?? scopesOf(user),
        resource: o.resource ?? audience,
      });
      const headers: Record<string, string> = {
        authorization: `Basic ${Buffer.from(`${user}:${demoSecret(user)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      };
      if (o.dpop !== undefined) headers.dpop = o.dpop;
      const res = await fetch(tokenEndpoint, { method: 'POST', headers, body });
      const json = (await res.json()) as {
        access_token?: string;
        error?: string;
        error_description?: string;
      };
      if (json.access_token === undefined) {
        throw new Error(`token request for ${user} failed: ${json.error} ${json.error_description ?? ''}`);
      }
      return json.access_token;
    },
    curlFor(user) {
      return (
        `curl -s -u ${user}:${demoSecret(user)} -d grant_type=client_credentials ` +
        `-d 'scope=${scopesOf(user)}' -d resource=${audience} ${tokenEndpoint}`
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The `policies.authenticate` block that protects the demo shop spec (scheme `bearer`) with this
 * provider's JWT access tokens.
 */
export function demoAuthenticateConfig(idp: Pick<DemoIdp, 'issuer' | 'audience'>): Record<string, unknown> {
  return {
    schemes: {
      bearer: {
        jwt: {
          issuers: [
            {
              issuer: idp.issuer,
              discovery: true,
              audiences: [idp.audience],
              typ: 'at+jwt',
              requiredClaims: ['sub'],
            },
          ],
        },
      },
    },
  };
}

/** Lines telling a person how to get tokens and see the object-level rule at work. */
export function demoInstructions(idp: DemoIdp, gatewayUrl: string): string[] {
  const token = (u: DemoUser) =>
    `${u.toUpperCase()}=$(${idp.curlFor(u)} | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`;
  return [
    `  identity provider  ${idp.issuer}  (oidc-provider; users alice, bob: role user; admin: role admin)`,
    '',
    '  Get a token for each user (client credentials, one command each):',
    `    ${token('alice')}`,
    `    ${token('bob')}`,
    `    ${token('admin')}`,
    '',
    '  Then:',
    `    curl -i ${gatewayUrl}/accounts/alice -H "Authorization: Bearer $ALICE"   # 200: her own account`,
    `    curl -i ${gatewayUrl}/accounts/bob -H "Authorization: Bearer $ALICE"     # 403: object-level rule`,
    `    curl -i ${gatewayUrl}/accounts/bob -H "Authorization: Bearer $ADMIN"     # 200: admin role`,
    `    curl -i ${gatewayUrl}/admin/users -H "Authorization: Bearer $BOB"        # 403: insufficient_scope`,
    `    curl -i ${gatewayUrl}/accounts/alice                                    # 401: no token`,
  ];
}
