import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { ConfigPathError } from '../../core/errors.ts';
import { type WithDefaults, withDefaults } from '../../core/policy-config.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import {
  type ClientAssertionSigner,
  createClientAssertionSigner,
  JWT_BEARER_ASSERTION_TYPE,
} from './client-assertion.ts';
import { fetchJson } from './fetch-json.ts';
import { type IntrospectionConfig, introspectionSchema } from './schema.ts';

export type IntrospectionOutcome =
  | { readonly ok: true; readonly claims: Record<string, unknown>; readonly rolesClaim: string }
  | { readonly ok: false; readonly reason: string; readonly detail: string; readonly unavailable?: boolean };

export interface Introspector {
  introspect(token: string): Promise<IntrospectionOutcome>;
  readonly cacheSize: number;
}

const MAX_INFLIGHT = 1000;

type Answer = { active: true; claims: Record<string, unknown> } | { active: false };

/**
 * How the gateway authenticates to the endpoint (RFC 7662 §2.1 requires it): adds its credentials to
 * the form or headers of one call. Built once; throws ConfigPathError for a wrong combination.
 */
function createClientAuthentication(
  cfg: WithDefaults<IntrospectionConfig, typeof introspectionSchema>,
  clock: Clock,
): (form: URLSearchParams, headers: Record<string, string>) => void | Promise<void> {
  const method = cfg.authMethod;
  if (method === 'private_key_jwt') {
    if (cfg.privateKeyJwt === undefined) {
      throw new ConfigPathError('privateKeyJwt', 'is required with authMethod private_key_jwt');
    }
    if (cfg.clientSecret !== undefined) {
      throw new ConfigPathError('clientSecret', 'is not used with authMethod private_key_jwt');
    }
    let signer: ClientAssertionSigner;
    try {
      signer = createClientAssertionSigner(cfg.privateKeyJwt, {
        clientId: cfg.clientId,
        audience: cfg.privateKeyJwt.audience ?? cfg.endpoint,
        clock,
      });
    } catch (err) {
      if (!(err instanceof ConfigPathError)) throw err;
      throw new ConfigPathError(err.path === '' ? 'privateKeyJwt' : `privateKeyJwt.${err.path}`, err.message);
    }
    return async (form) => {
      // RFC 7523 §2.2; client_id is optional there, sent because some servers look the client up by it.
      form.set('client_id', cfg.clientId);
      form.set('client_assertion_type', JWT_BEARER_ASSERTION_TYPE);
      form.set('client_assertion', await signer.sign());
    };
  }
  if (cfg.privateKeyJwt !== undefined) {
    throw new ConfigPathError('privateKeyJwt', `is not used with authMethod ${method}`);
  }
  const secret = cfg.clientSecret;
  if (secret === undefined) {
    throw new ConfigPathError('clientSecret', `is required with authMethod ${method}`);
  }
  if (method === 'client_secret_post') {
    return (form) => {
      form.set('client_id', cfg.clientId);
      form.set('client_secret', secret);
    };
  }
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(cfg.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  return (_form, headers) => {
    headers.authorization = basic;
  };
}

/**
 * OAuth 2.0 token introspection (RFC 7662) with client authentication (`client_secret_basic`,
 * `client_secret_post` or `private_key_jwt`). Answers are cached keyed by the
 * SHA-256 of the token (never the token itself): active ones until `min(exp, cacheSeconds)` (§4: a
 * response "MUST NOT be cached beyond" its exp), inactive ones for `negativeCacheSeconds`.
 */
export function createIntrospector(
  config: IntrospectionConfig,
  deps: { clock: Clock; logger: Logger },
): Introspector {
  const { clock } = deps;
  const cfg = withDefaults(introspectionSchema, config);
  const cacheMs = cfg.cacheSeconds * 1000;
  const negativeMs = cfg.negativeCacheSeconds * 1000;
  const { maxTokenBytes, timeoutMs, rolesClaim } = cfg;
  const cache = new BoundedCache<string, Answer>(cfg.maxCacheEntries);
  const inflight = new Map<string, Promise<Answer>>();
  const authenticateClient = createClientAuthentication(cfg, clock);

  async function call(token: string): Promise<Answer> {
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    await authenticateClient(form, headers);
    const res = await fetchJson(cfg.endpoint, {
      method: 'POST',
      headers,
      body: form.toString(),
      timeoutMs,
      maxBytes: 64 * 1024,
    });
    if (res.status === 401) {
      // RFC 6749 §5.2 invalid_client: a configuration problem of the gateway, not of the caller's token.
      throw new Error('introspection endpoint refused the client authentication of the gateway (401)');
    }
    if (res.status !== 200 || res.body === null || typeof res.body !== 'object') {
      throw new Error(`introspection endpoint answered ${res.status}`);
    }
    const body = res.body as Record<string, unknown>;
    // §2.2: `active` is REQUIRED and boolean; anything else is not an active token.
    return body.active === true ? { active: true, claims: body } : { active: false };
  }

  function check(claims: Record<string, unknown>, now: number): IntrospectionOutcome {
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= now) return fail('expired', 'token expired');
    if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now)
      return fail('not_yet_valid', 'token not yet valid');
    if (cfg.issuer !== undefined && claims.iss !== undefined && claims.iss !== cfg.issuer) {
      return fail('wrong_issuer', 'token issuer is not trusted');
    }
    if (cfg.audiences !== undefined && cfg.audiences.length > 0) {
      const aud = claims.aud;
      const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (!list.some((a) => cfg.audiences!.includes(a as string))) {
        return fail('wrong_audience', 'token is not meant for this API');
      }
    }
    return { ok: true, claims, rolesClaim };
  }

  return {
    get cacheSize() {
      return cache.size;
    },
    async introspect(token) {
      if (token.length > maxTokenBytes) return fail('oversized', `token longer than ${maxTokenBytes} bytes`);
      const key = createHash('sha256').update(token).digest('base64url');
      const now = clock.now();
      let answer = cache.get(key, now);
      if (answer === undefined) {
        let pending = inflight.get(key);
        if (pending === undefined) {
          // Distinct tokens in flight are bounded too: each one is a call to the authorization server.
          if (inflight.size >= MAX_INFLIGHT) {
            return {
              ok: false,
              reason: 'introspection_overloaded',
              detail: 'cannot verify token',
              unavailable: true,
            };
          }
          pending = call(token).finally(() => inflight.delete(key));
          inflight.set(key, pending);
        }
        try {
          answer = await pending;
        } catch (err) {
          deps.logger.warn({ err: (err as Error).message }, 'token introspection failed');
          return {
            ok: false,
            reason: 'introspection_unavailable',
            detail: 'cannot verify token',
            unavailable: true,
          };
        }
        const t = clock.now();
        if (answer.active) {
          const exp =
            typeof answer.claims.exp === 'number' ? answer.claims.exp * 1000 : Number.POSITIVE_INFINITY;
          cache.set(key, answer, Math.min(t + cacheMs, exp), t);
        } else cache.set(key, answer, t + negativeMs, t);
      }
      if (!answer.active) return fail('inactive', 'token is not active');
      return check(answer.claims, now);
    },
  };
}

function fail(reason: string, detail: string): IntrospectionOutcome {
  return { ok: false, reason, detail };
}
