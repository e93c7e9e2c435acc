/**
 * What the authentication tests need beyond the test kit (test/kit/policy.ts, test/kit/policy-server.ts):
 * an identity provider's JWKS endpoint whose keys and availability the test controls, and DPoP-bound
 * tokens with their proofs.
 */
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, type JWK, SignJWT } from 'jose';
import type { JsonObject } from '../../../src/core/api-document.ts';
import { startServer } from '../../kit/server.ts';

type SigningKey = Parameters<SignJWT['sign']>[0];

/**
 * An ES256 access token of `https://as.test` (kid `as`) for audience `api`, subject `alice`, valid 60 s;
 * bound to `holderJwk` (RFC 9449 `cnf.jkt`) when one is given.
 */
export async function dpopToken(issuerKey: SigningKey, holderJwk?: JWK): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const cnf =
    holderJwk === undefined ? {} : { cnf: { jkt: await calculateJwkThumbprint(holderJwk, 'sha256') } };
  return new SignJWT({ iss: 'https://as.test', aud: 'api', sub: 'alice', exp: now + 60, ...cnf })
    .setProtectedHeader({ alg: 'ES256', kid: 'as' })
    .sign(issuerKey);
}

/**
 * A fresh DPoP proof (new jti, iat now) for GET `htu` carrying the hash of `token`, signed with the holder's
 * key; `claims` and `header` add or replace members.
 */
export function dpopProof(
  holderKey: SigningKey,
  holderJwk: JWK,
  htu: string,
  token: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({
    htm: 'GET',
    htu,
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ath: createHash('sha256').update(token).digest('base64url'),
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holderJwk, ...header })
    .sign(holderKey);
}

/** A JWKS endpoint whose key set and availability the test controls. */
export interface JwksServer {
  readonly url: string;
  readonly origin: string;
  /** Number of JWKS requests served. */
  readonly hits: number;
  setKeys(keys: JsonObject[]): void;
  setDown(down: boolean): void;
  /** Extra JSON documents served at given paths (e.g. discovery metadata). */
  serve(path: string, body: unknown): void;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  let keys: JsonObject[] = [];
  let down = false;
  let hits = 0;
  const extra = new Map<string, unknown>();
  const server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/jwks') {
      hits++;
      if (down) {
        res.writeHead(503).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify({ keys }));
      return;
    }
    if (extra.has(path)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(extra.get(path)));
      return;
    }
    res.writeHead(404).end();
  });
  const origin = server.url;
  return {
    url: `${origin}/jwks`,
    origin,
    get hits() {
      return hits;
    },
    setKeys(k) {
      keys = k;
    },
    setDown(d) {
      down = d;
    },
    serve(path, body) {
      extra.set(path, body);
    },
    close: () => server.close(),
  };
}
