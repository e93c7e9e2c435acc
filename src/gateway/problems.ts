/**
 * The one catalogue of problem types (RFC 9457) that the gateway answers with.
 * Tests refer to entries here, never to message text.
 */
export interface ProblemType {
  /** Stable URI naming the problem type. */
  readonly type: string;
  /** Short summary, the same for every occurrence (RFC 9457 §3.1.3). */
  readonly title: string;
  readonly status: number;
}

const BASE = 'https://portcullis.dev/problems/';

function define(slug: string, status: number, title: string): ProblemType {
  return Object.freeze({ type: BASE + slug, title, status });
}

export const problems = {
  badRequest: define('bad-request', 400, 'Bad request'),
  invalidRequest: define('invalid-request', 400, 'Request does not match the API description'),
  unauthorized: define('unauthorized', 401, 'Authentication required'),
  invalidToken: define('invalid-token', 401, 'Invalid credentials'),
  invalidDpopProof: define('invalid-dpop-proof', 401, 'Invalid DPoP proof'),
  forbidden: define('forbidden', 403, 'Access denied'),
  insufficientScope: define('insufficient-scope', 403, 'Insufficient scope'),
  banned: define('banned', 403, 'Client temporarily banned'),
  notFound: define('not-found', 404, 'No such operation'),
  methodNotAllowed: define('method-not-allowed', 405, 'Method not allowed'),
  notAcceptable: define('not-acceptable', 406, 'Not acceptable'),
  requestTimeout: define('request-timeout', 408, 'Request timeout'),
  payloadTooLarge: define('payload-too-large', 413, 'Request body too large'),
  uriTooLong: define('uri-too-long', 414, 'URI too long'),
  unsupportedMediaType: define('unsupported-media-type', 415, 'Unsupported media type'),
  misdirectedRequest: define('misdirected-request', 421, 'Unknown host'),
  injectionDetected: define('injection-detected', 400, 'Request rejected by the injection guard'),
  ssrfBlocked: define('ssrf-blocked', 400, 'URL points to a forbidden destination'),
  headersTooLarge: define('headers-too-large', 431, 'Request header fields too large'),
  // RFC 9457 registry entries named by draft-ietf-httpapi-ratelimit-headers.
  quotaExceeded: Object.freeze({
    type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
    title: 'Quota exceeded',
    status: 429,
  }),
  abnormalUsage: Object.freeze({
    type: 'https://iana.org/assignments/http-problem-types#abnormal-usage-detected',
    title: 'Abnormal usage detected',
    status: 429,
  }),
  temporaryReducedCapacity: Object.freeze({
    type: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
    title: 'Temporarily reduced capacity',
    status: 503,
  }),
  // Admin API (src/admin/api.ts).
  resourceNotFound: define('resource-not-found', 404, 'No such resource'),
  configRejected: define('config-rejected', 422, 'Config rejected; the running config is unchanged'),
  internal: define('internal', 500, 'Internal gateway error'),
  upstreamError: define('upstream-error', 502, 'Upstream error'),
  badGateway: define('bad-gateway', 502, 'Upstream unreachable'),
  upstreamResponseRejected: define('upstream-response-rejected', 502, 'Upstream response withheld'),
  serviceUnavailable: define('service-unavailable', 503, 'Service unavailable'),
  circuitOpen: define('circuit-open', 503, 'Upstream circuit open'),
  gatewayTimeout: define('gateway-timeout', 504, 'Upstream timed out'),
} as const satisfies Record<string, ProblemType>;

/** One occurrence of a problem: what a policy returns to stop a request. */
export interface Problem {
  readonly problem: ProblemType;
  /** Explanation for this occurrence; must never contain secrets, tokens or upstream internals. */
  readonly detail?: string;
  /** Extra members for the body (e.g. `errors`, `violated-policies`). */
  readonly extensions?: Record<string, unknown>;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`, `Allow`). */
  readonly headers?: Record<string, string | string[]>;
  /** Machine-readable reason for the decision log (e.g. `expired`, `rule_denied`). */
  readonly reason?: string;
}

/** Creates a problem occurrence. */
export function problem(
  type: ProblemType,
  detail?: string,
  more?: Omit<Problem, 'problem' | 'detail'>,
): Problem {
  return { problem: type, detail, ...more };
}

/** Serialises a problem as an `application/problem+json` body; `instance` is the request id. */
export function problemBody(p: Problem, instance: string): string {
  return JSON.stringify({
    type: p.problem.type,
    title: p.problem.title,
    status: p.problem.status,
    ...(p.detail === undefined ? {} : { detail: p.detail }),
    instance: `urn:portcullis:request:${instance}`,
    ...p.extensions,
  });
}
