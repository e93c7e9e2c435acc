import type { PolicyDefinition } from '../core/policy.ts';
import { authenticatePolicy } from './authenticate/policy.ts';
import { authorizePolicy } from './authorize/policy.ts';
import { banPolicy, banPrincipalPolicy } from './ban/policy.ts';
import { concurrencyPolicy } from './concurrency/policy.ts';
import { cors } from './cors/policy.ts';
import { injectionPolicy } from './injection/policy.ts';
import { protectResponse } from './protect-response/policy.ts';
import { ipRateLimitPolicy, rateLimitPolicy } from './rate-limit/policy.ts';
import { securityHeaders } from './security-headers/policy.ts';
import { ssrfGuard } from './ssrf-guard/policy.ts';
import { validateRequest } from './validate-request/policy.ts';

/**
 * Every policy the gateway knows, in no particular order (stages order them). Adding a policy is one
 * folder under `src/policies/` and one line here.
 */
// biome-ignore lint/suspicious/noExplicitAny: definitions are heterogeneous in their config type
export const policies: ReadonlyArray<PolicyDefinition<any>> = [
  banPolicy,
  banPrincipalPolicy,
  authenticatePolicy,
  authorizePolicy,
  ipRateLimitPolicy,
  rateLimitPolicy,
  validateRequest,
  ssrfGuard,
  protectResponse,
  securityHeaders,
  cors,
  concurrencyPolicy,
  injectionPolicy,
];
