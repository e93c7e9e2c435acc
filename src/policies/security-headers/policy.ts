import type { PolicyDefinition, PolicyHandler } from '../../core/policy.ts';
import { type ConfigOf, defaultsOf } from '../../core/policy-config.ts';

/** JSON Schema of the `securityHeaders` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hstsMaxAgeSeconds: {
      type: 'integer',
      minimum: 0,
      // Mozilla server-side TLS guidelines: at least two years.
      default: 63072000,
      description:
        'Strict-Transport-Security max-age, sent on TLS responses only (RFC 6797 §7.2). 0 omits it.',
    },
    hstsIncludeSubDomains: {
      type: 'boolean',
      default: true,
      description: 'Add includeSubDomains to Strict-Transport-Security.',
    },
    hstsPreload: {
      type: 'boolean',
      default: false,
      description:
        'Add preload to Strict-Transport-Security (only once the domain is meant for the preload list).',
    },
    contentSecurityPolicy: {
      type: 'string',
      // An API answers data, never documents: nothing may load, nothing may frame it.
      default: "default-src 'none'; frame-ancestors 'none'",
      description: 'Content-Security-Policy of API responses; empty omits it.',
    },
    referrerPolicy: {
      type: 'string',
      default: 'no-referrer',
      description: 'Referrer-Policy; empty omits it.',
    },
    frameOptions: {
      type: 'string',
      default: 'DENY',
      description: 'X-Frame-Options for browsers without CSP frame-ancestors; empty omits it.',
    },
    crossOriginResourcePolicy: {
      enum: ['same-origin', 'same-site', 'cross-origin', ''],
      default: 'same-origin',
      description: 'Cross-Origin-Resource-Policy (does not affect CORS requests); empty omits it.',
    },
    noStoreWhenAuthenticated: {
      type: 'boolean',
      default: true,
      description:
        'Send Cache-Control: no-store on responses to authenticated callers, whatever the upstream said.',
    },
  },
} as const;

export type SecurityHeadersConfig = ConfigOf<typeof schema>;

export const defaults = defaultsOf<SecurityHeadersConfig>(schema);

/** Compiles the header set once; the handler only assigns precomputed strings. */
export function compileSecurityHeaders(config: SecurityHeadersConfig): PolicyHandler | null {
  const c = { ...defaults, ...config };
  if (c.mode === 'report') return null; // report mode changes nothing, and there is nothing to reject
  const always: Array<[string, string]> = [['x-content-type-options', 'nosniff']];
  if (c.contentSecurityPolicy !== '') always.push(['content-security-policy', c.contentSecurityPolicy]);
  if (c.referrerPolicy !== '') always.push(['referrer-policy', c.referrerPolicy]);
  if (c.frameOptions !== '') always.push(['x-frame-options', c.frameOptions]);
  if (c.crossOriginResourcePolicy !== '')
    always.push(['cross-origin-resource-policy', c.crossOriginResourcePolicy]);
  const hsts =
    c.hstsMaxAgeSeconds > 0
      ? `max-age=${c.hstsMaxAgeSeconds}${c.hstsIncludeSubDomains ? '; includeSubDomains' : ''}${c.hstsPreload ? '; preload' : ''}`
      : undefined;
  return {
    onResponseHead(ex, head) {
      for (const [k, v] of always) head.headers[k] = v;
      // RFC 6797 §7.2: an HSTS host must not send the header over plain HTTP.
      if (hsts !== undefined && ex.scheme === 'https') head.headers['strict-transport-security'] = hsts;
      if (c.noStoreWhenAuthenticated && ex.principal !== undefined && ex.principal.method !== 'anonymous') {
        head.headers['cache-control'] = 'no-store';
        delete head.headers.expires;
      }
    },
  };
}

/**
 * `securityHeaders`: the response headers an API should always send (nosniff, a CSP that loads nothing,
 * no referrer, no framing), HSTS on TLS, and `Cache-Control: no-store` for authenticated callers.
 */
export const securityHeaders: PolicyDefinition<SecurityHeadersConfig> = {
  name: 'securityHeaders',
  stage: 'protect-response',
  description:
    'Adds security headers to responses: HSTS (TLS only), nosniff, a restrictive CSP, Referrer-Policy, ' +
    'X-Frame-Options, CORP, and no-store on authenticated responses.',
  schema,
  compile: (config) => compileSecurityHeaders(config),
};
