import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { limitScenarios } from './limits.ts';
import { JSON_POST, type Scenario } from './scenario.ts';

const ISSUER = 'https://idp.bench.example';
const AUDIENCE = 'https://api.bench.example';

/**
 * Serves a JWKS on 127.0.0.1 (the gateway fetches it once at start) and signs one RS256 access token
 * with the scope the bench spec asks for.
 */
export async function jwtSetup(): Promise<{
  env: Record<string, string>;
  headers: Record<string, string>;
  cleanup(): Promise<void>;
}> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const jwks = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  const token = await new SignJWT({ scope: 'bench:read bench:write', client_id: 'bench' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('bench-user')
    .setIssuedAt()
    .setJti('bench-token')
    .setExpirationTime('2h')
    .sign(privateKey);
  return {
    env: { BENCH_JWKS: jwks },
    headers: { authorization: `Bearer ${token}` },
    cleanup: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The bench spec with a bearer requirement and a scope on both operations. */
const SECURED = { security: [{ bearer: ['bench:read'] }] };

function jwtPolicy(cacheEntries?: number) {
  return {
    schemes: {
      bearer: {
        jwt: {
          issuers: [
            { issuer: ISSUER, jwksUri: '${BENCH_JWKS}', audiences: [AUDIENCE], algorithms: ['RS256'] },
          ],
          ...(cacheEntries === undefined ? {} : { tokenCacheMaxEntries: cacheEntries }),
        },
      },
    },
  };
}

const bearerSpec = {
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  ...SECURED,
};

/** Everything a production API would switch on, on a 1 KB JSON POST. */
const fullPipeline = {
  authenticate: jwtPolicy(),
  ipRateLimit: {
    limits: [{ name: 'per-ip', algorithm: 'gcra', limit: 1_000_000_000, windowSeconds: 1, key: 'ip' }],
  },
  rateLimit: {
    limits: [{ name: 'per-user', algorithm: 'gcra', limit: 1_000_000_000, windowSeconds: 1, key: 'subject' }],
  },
  validateRequest: {},
  injection: { paranoia: 1 },
  protectResponse: {},
};

/** Debian's modsecurity-crs rules: the same rules nginx + ModSecurity runs in the bench (bench/modsecurity.ts). */
export const CRS_RULES = '/usr/share/modsecurity-crs/rules';

/** The full pipeline with the injection policy in its Core Rule Set mode at paranoia level 1 (issue 17). */
const crsPipeline = { ...fullPipeline, injection: { crs: { path: CRS_RULES, paranoiaLevel: 1 } } };

/** The name of the CRS full-pipeline scenario (a bar of issue 17 compares it). */
export const CRS_FULL_PIPELINE =
  'full pipeline with CRS PL1 (JWT, limits, validation, injection CRS PL1, response filter), JSON POST';

/**
 * The name of the CRS-alone scenario: the gateway running Debian's CRS 3.3 at PL1 and nothing else (no JWT,
 * limits, validation, schema types nor built-in detectors), the same rules on the same request as nginx +
 * ModSecurity: the like-for-like side of issue 17's 10× bar.
 */
export const CRS_ALONE =
  'CRS PL1 alone (injection CRS PL1, no built-in detectors, no schema types, nothing else), JSON POST';

/**
 * Policy scenarios measured beside pass-through. Each is a Portcullis config; see bench/run.ts for the
 * harness. `specPatch` is merged into the bench spec's root.
 */
export const extraScenarios: Scenario[] = [
  ...limitScenarios,
  {
    // The baseline for the JWT rows: the same requests (with the same 800-byte bearer header, forwarded
    // upstream) through a gateway that does not check it.
    name: 'pass-through, same requests with the bearer header',
    kind: 'portcullis',
    setup: jwtSetup,
  },
  {
    name: 'JWT RS256 via JWKS + scope, cached',
    kind: 'portcullis',
    specPatch: bearerSpec,
    api: { policies: { authenticate: jwtPolicy() } },
    setup: jwtSetup,
  },
  {
    name: 'JWT RS256 via JWKS + scope, uncached',
    kind: 'portcullis',
    specPatch: bearerSpec,
    api: { policies: { authenticate: jwtPolicy(0) } },
    setup: jwtSetup,
  },
  {
    name: 'portcullis validation + injection P1 + response filter, JSON POST',
    kind: 'portcullis',
    ...JSON_POST,
    api: { policies: { validateRequest: {}, injection: { paranoia: 1 }, protectResponse: {} } },
  },
  {
    name: 'full pipeline (JWT, limits, validation, injection P1, response filter), JSON POST',
    kind: 'portcullis',
    ...JSON_POST,
    specPatch: bearerSpec,
    api: { policies: fullPipeline },
    setup: jwtSetup,
  },
  {
    name: CRS_FULL_PIPELINE,
    kind: 'portcullis',
    ...JSON_POST,
    specPatch: bearerSpec,
    api: { policies: crsPipeline },
    setup: jwtSetup,
  },
  {
    name: CRS_ALONE,
    kind: 'portcullis',
    ...JSON_POST,
    api: {
      policies: {
        injection: {
          crs: { path: CRS_RULES, paranoiaLevel: 1, builtinDetectors: false, schemaAware: false },
        },
      },
    },
  },
  {
    // The watch loop (detectors, discovery) on, but no event store: the cost of storing alone.
    name: 'full pipeline, JSON POST, watch loop on, events not stored',
    kind: 'portcullis',
    ...JSON_POST,
    specPatch: bearerSpec,
    api: { policies: fullPipeline },
    root: { monitor: { enabled: true, events: { store: 'none' } } },
    setup: jwtSetup,
  },
  {
    name: 'full pipeline, JSON POST, events to SQLite',
    kind: 'portcullis',
    ...JSON_POST,
    specPatch: bearerSpec,
    api: { policies: fullPipeline },
    root: { monitor: { enabled: true, events: { store: 'sqlite', sqlite: { path: './events.db' } } } },
    setup: jwtSetup,
  },
];
