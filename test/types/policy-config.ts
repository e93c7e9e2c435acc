/**
 * Type-level test, checked by `npm run typecheck` (nothing here runs): a policy's config type is derived
 * from its JSON Schema (src/core/policy-config.ts), so a field, an enum value or a type the schema does
 * not declare is a compile error, and a change to the schema changes the type the policy compiles from.
 * Each `@ts-expect-error` fails the typecheck if the line below it stops being an error.
 */
import { type ConfigOf, defaultsOf } from '../../src/core/policy-config.ts';
import type { CorsConfig } from '../../src/policies/cors/policy.ts';
import type { DetectorName } from '../../src/policies/protect-response/data-leak.ts';
import type { ProtectResponseConfig } from '../../src/policies/protect-response/schema.ts';
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

void [misspelt, incomplete, badEnum, badType, readRemoved];
