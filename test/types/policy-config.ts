/**
 * Type-level test, checked by `npm run typecheck` (nothing here runs): a policy's config type is derived
 * from its JSON Schema (src/core/policy-config.ts), so a field, an enum value or a type the schema does
 * not declare is a compile error, and a change to the schema changes the type the policy compiles from.
 * Each `@ts-expect-error` fails the typecheck if the line below it stops being an error.
 */
import {
  type ConfigOf,
  defaultsOf,
  type SparseConfigOf,
  withDefaults,
} from '../../src/core/policy-config.ts';
import {
  type AuthenticateConfig,
  type IntrospectionConfig,
  introspectionSchema,
  type JwtIssuerConfig,
  type SchemeBinding,
} from '../../src/policies/authenticate/schema.ts';
import type { BanConfig } from '../../src/policies/ban/policy.ts';
import type { ConcurrencyConfig } from '../../src/policies/concurrency/policy.ts';
import type { CorsConfig } from '../../src/policies/cors/policy.ts';
import type { CrsExclusion, InjectionConfig } from '../../src/policies/injection/schema.ts';
import type { InjectionClass } from '../../src/policies/injection/types.ts';
import type { DetectorName } from '../../src/policies/protect-response/data-leak.ts';
import type { ProtectResponseConfig } from '../../src/policies/protect-response/schema.ts';
import type { LimitConfig, RateLimitConfig } from '../../src/policies/rate-limit/schema.ts';
import { type SsrfGuardConfig, defaults as ssrfDefaults } from '../../src/policies/ssrf-guard/schema.ts';
import type { ValidateRequestConfig } from '../../src/policies/validate-request/schema.ts';

/** True only when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(ok: Equal<A, B>) => ok;

// The derived types are what the policies were written against.
same<ValidateRequestConfig['additionalProperties'], 'reject' | 'strip'>(true);
same<ValidateRequestConfig['maxBodyBytes'], number>(true);
same<ProtectResponseConfig['dataLeakDetectors'], DetectorName[]>(true);
same<ProtectResponseConfig['dataLeak'], 'mask' | 'block' | 'off'>(true);
same<CorsConfig['allowOrigins'], string[]>(true);
same<SsrfGuardConfig['mode'], 'enforce' | 'report'>(true);

const ssrf: SsrfGuardConfig = { ...ssrfDefaults, mode: 'enforce' };

// A field the schema does not declare (additionalProperties: false makes the type exact).
// @ts-expect-error allowHost is not a field of ssrfGuard
const misspelt: SsrfGuardConfig = { ...ssrf, allowHost: ['example.com'] };

// A field with a default is always there after validation: leaving it out is an error.
const { maxUrls: _maxUrls, ...withoutMaxUrls } = ssrf;
// @ts-expect-error maxUrls is required (it has a default)
const incomplete: SsrfGuardConfig = withoutMaxUrls;

// An enum value the schema does not list.
// @ts-expect-error 'drop' is not one of reject | strip
const badEnum: ValidateRequestConfig['additionalProperties'] = 'drop';

// A value of the wrong type.
// @ts-expect-error maxBodyBytes is an integer
const badType: ValidateRequestConfig = { ...ssrf, maxBodyBytes: '1mb' };

// Drift: the type follows the schema. A schema without `maxUrls` has a type without it.
const shrunk = {
  type: 'object',
  additionalProperties: false,
  properties: { allowHosts: { type: 'array', items: { type: 'string' }, default: [] } },
} as const;
type Shrunk = ConfigOf<typeof shrunk>;
const shrunkDefaults = defaultsOf<Shrunk>(shrunk);
// @ts-expect-error maxUrls left the schema, so code that reads it no longer compiles
const readRemoved = (c: Shrunk) => c.maxUrls;
same<typeof shrunkDefaults, { allowHosts: string[] }>(true);

// Nested schemas: injection (with its `crs` block), authenticate (a verifier per scheme), rate limits.
same<InjectionConfig['paranoia'], 1 | 2 | 3>(true);
same<InjectionConfig['classes'], InjectionClass[]>(true);
same<NonNullable<InjectionConfig['crs']>['paranoiaLevel'], number>(true);
same<
  IntrospectionConfig['authMethod'],
  'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | undefined
>(true);
same<JwtIssuerConfig['audiences'], string[]>(true);
same<LimitConfig['key'], string | string[] | undefined>(true);
same<LimitConfig['algorithm'], 'gcra' | 'sliding-window' | 'fixed-window' | 'quota' | 'concurrency'>(true);
same<BanConfig['cacheMs'], number | undefined>(true);
same<NonNullable<ConcurrencyConfig['global']>['maxInFlight'], number>(true);

// A nested block the gateway has filled carries its defaults: a `crs` block of only `path` is not one.
// @ts-expect-error paranoiaLevel, inboundAnomalyThreshold, schemaAware ... are required inside crs
const crsUnfilled: InjectionConfig['crs'] = { path: '/usr/share/modsecurity-crs/rules' };
// anyOf required [ids] or [tags]: an exclusion naming no rule is not a CrsExclusion.
// @ts-expect-error an exclusion needs ids or tags
const noRule: CrsExclusion = { targets: ['ARGS:comment'] };
// @ts-expect-error 'fragment' is not an injection exclusion location
const badLocation: InjectionConfig['exclusions'][number] = { location: 'fragment' };

// A misspelt verifier, an algorithm the allowlist cannot hold, a required member left out.
// @ts-expect-error jwts is not a verifier
const badVerifier: SchemeBinding = { jwts: { issuers: [] } };
// @ts-expect-error `none` is not an algorithm of the schema
const noneAlg: JwtIssuerConfig = { issuer: 'https://as.test', audiences: ['api'], algorithms: ['none'] };
// @ts-expect-error resourceMetadata needs resource
const noResource: AuthenticateConfig['resourceMetadata'] = { resourceName: 'orders' };

// Blocks whose schema did not close itself (concurrency, rate limits) are closed now: a typo is caught.
// @ts-expect-error retryAfter is not a field of concurrency (retryAfterSeconds is)
const openConcurrency: ConcurrencyConfig = { mode: 'enforce', retryAfter: 2 };
// @ts-expect-error a cap needs maxInFlight
const noInFlight: ConcurrencyConfig = { mode: 'enforce', global: { maxQueued: 2 } };
// @ts-expect-error failmode is misspelt
const openRateLimit: RateLimitConfig = { mode: 'enforce', failmode: 'closed' };
// @ts-expect-error token-bucket is not an algorithm
const badAlgorithm: LimitConfig = { name: 'a', algorithm: 'token-bucket', limit: 1 };
// @ts-expect-error a limit needs limit
const noLimit: LimitConfig = { name: 'a', algorithm: 'gcra' };
// @ts-expect-error checkIP is misspelt (checkIp)
const badBan: BanConfig = { mode: 'enforce', checkIP: false };

// Drift inside a nested block: a verifier schema that loses a member loses it from the type.
const nested = {
  type: 'object',
  additionalProperties: false,
  properties: {
    basic: {
      type: 'object',
      additionalProperties: false,
      properties: { cacheMaxEntries: { type: 'integer', default: 10000 } },
    },
  },
} as const;
type Nested = SparseConfigOf<typeof nested>;
same<NonNullable<Nested['basic']>['cacheMaxEntries'], number | undefined>(true);
// @ts-expect-error cacheSeconds left the nested schema, so code that reads it no longer compiles
const readNestedRemoved = (c: Nested) => c.basic?.cacheSeconds;

// withDefaults: a sparse block read through its schema has every defaulted field, and only those.
const filled = withDefaults(introspectionSchema, {} as IntrospectionConfig);
same<typeof filled.cacheSeconds, number>(true);
same<typeof filled.authMethod, 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'>(true);
same<typeof filled.issuer, string | undefined>(true);
const filledNested = withDefaults(nested.properties.basic, {} as NonNullable<Nested['basic']>);
same<typeof filledNested.cacheMaxEntries, number>(true);

void [misspelt, incomplete, badEnum, badType, readRemoved, crsUnfilled, noRule, badLocation];
void [badVerifier, noneAlg, noResource, openConcurrency, noInFlight, openRateLimit, badAlgorithm, noLimit];
void [badBan, readNestedRemoved];
