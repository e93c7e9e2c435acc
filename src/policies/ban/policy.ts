import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, RequestResult } from '../../core/policy.ts';
import { type ConfigOf, defaultsOf, type SparseConfigOf } from '../../core/policy-config.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { credentialHash, presentedCredential } from '../../shared/credential-hash.ts';
import { type Ban, type BanChecker, type BanKind, createBanChecker } from '../../state/bans.ts';

const cacheMsSchema = {
  type: 'integer',
  minimum: 0,
  maximum: 60_000,
  default: 1000,
  description:
    'How long this instance trusts its cached answer for one key; a ban or unban made elsewhere takes effect within it.',
} as const;

/** JSON Schema of the `ban` config block. */
const banSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    checkIp: { type: 'boolean', default: true, description: 'Refuse banned client addresses.' },
    checkToken: {
      type: 'boolean',
      default: true,
      description: 'Refuse banned credentials (bearer tokens, API keys), compared by hash.',
    },
    apiKeyHeaders: {
      type: 'array',
      items: { type: 'string', pattern: '^[a-z0-9-]+$' },
      maxItems: 10,
      default: [],
      description:
        'Lower-case header names carrying API keys, checked when there is no Authorization header.',
    },
    cacheMs: cacheMsSchema,
  },
} as const;

/** Config of `ban` (stage `ban`); `compile` fills in the defaults of fields left out. */
export type BanConfig = SparseConfigOf<typeof banSchema>;
const banDefaults = defaultsOf<ConfigOf<typeof banSchema>>(banSchema);

/** JSON Schema of the `banPrincipal` config block. */
const banPrincipalSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    checkSubject: { type: 'boolean', default: true, description: 'Refuse banned token subjects.' },
    checkConsumer: { type: 'boolean', default: true, description: 'Refuse banned consumers.' },
    cacheMs: cacheMsSchema,
  },
} as const;

/** Config of `banPrincipal` (stage `authorize`); `compile` fills in the defaults of fields left out. */
export type BanPrincipalConfig = SparseConfigOf<typeof banPrincipalSchema>;
const banPrincipalDefaults = defaultsOf<ConfigOf<typeof banPrincipalSchema>>(banPrincipalSchema);

function checkerFor(ctx: CompileContext, cacheMs: number): BanChecker {
  return ctx.shared.get(`portcullis.ban.checker:${cacheMs}`, () =>
    createBanChecker({
      store: ctx.store,
      clock: ctx.clock,
      cacheMs,
      onError: (err) => ctx.logger.warn({ err }, 'ban check failed; request let through'),
    }),
  );
}

function denial(ban: Ban, now: number): Problem {
  const retryAfter = Math.max(1, Math.ceil((ban.expiresAt - now) / 1000));
  return problem(problems.banned, `Retry after ${retryAfter} seconds`, {
    headers: { 'retry-after': String(retryAfter) },
    reason: `banned_${ban.kind}`,
  });
}

/**
 * Checks `first`, then `second` (a value left undefined or empty is not checked); answers synchronously
 * while every answer comes from the cache. Two pairs of arguments, not a list: nothing is made per request.
 */
function firstBan(
  checker: BanChecker,
  now: number,
  firstKind: BanKind,
  first: string | undefined,
  secondKind: BanKind,
  second: string | undefined,
): RequestResult | Promise<RequestResult> {
  if (first !== undefined && first !== '') {
    const r = checker.find(firstKind, first);
    if (r instanceof Promise)
      return r.then((ban) =>
        ban ? denial(ban, now) : firstBan(checker, now, secondKind, second, secondKind, ''),
      );
    if (r) return denial(r, now);
  }
  if (second === undefined || second === '') return undefined;
  const r = checker.find(secondKind, second);
  if (r instanceof Promise) return r.then((ban) => (ban ? denial(ban, now) : undefined));
  return r ? denial(r, now) : undefined;
}

/**
 * `ban` (stage `ban`, first in the pipeline): refuses clients under a temporary ban with 403 `banned` and
 * `Retry-After`, by client address and by presented credential (the `credentialHash` of the Authorization
 * value or an API-key header), before any authentication work. Bans on a consumer or token subject need
 * the authenticated principal and are checked by `banPrincipal` in the `authorize` stage.
 */
export const banPolicy: PolicyDefinition<BanConfig> = {
  name: 'ban',
  stage: 'ban',
  enabledByDefault: true,
  description:
    'Refuses clients under a temporary ban (automatic from the detectors, or manual) by address and by presented credential, before authentication.',
  schema: banSchema,
  compile(config, ctx) {
    const { checkIp, checkToken, apiKeyHeaders, cacheMs } = { ...banDefaults, ...config };
    if (!checkIp && !checkToken) return null;
    const checker = checkerFor(ctx, cacheMs);
    return {
      onRequest(ex: Exchange) {
        let token: string | undefined;
        if (checkToken) {
          const credential = presentedCredential(ex.req.headers, apiKeyHeaders);
          if (credential !== undefined) token = credentialHash(credential);
        }
        return firstBan(checker, ctx.clock.now(), 'ip', checkIp ? ex.clientIp : undefined, 'token', token);
      },
    };
  },
};

/**
 * `banPrincipal` (stage `authorize`): refuses an authenticated caller whose consumer or token subject is
 * under a temporary ban, with 403 `banned`. Place it first among the authorize-stage policies.
 */
export const banPrincipalPolicy: PolicyDefinition<BanPrincipalConfig> = {
  name: 'banPrincipal',
  stage: 'authorize',
  enabledByDefault: true,
  description: 'Refuses authenticated callers whose consumer or token subject is under a temporary ban.',
  schema: banPrincipalSchema,
  compile(config, ctx) {
    const { checkSubject, checkConsumer, cacheMs } = { ...banPrincipalDefaults, ...config };
    if (!checkSubject && !checkConsumer) return null;
    const checker = checkerFor(ctx, cacheMs);
    return {
      onRequest(ex: Exchange) {
        const p = ex.principal;
        if (p === undefined || p.method === 'anonymous') return undefined;
        const subject = checkSubject ? p.subject : undefined;
        const consumer = checkConsumer ? p.consumer : undefined;
        return firstBan(checker, ctx.clock.now(), 'subject', subject, 'consumer', consumer);
      },
    };
  },
};
