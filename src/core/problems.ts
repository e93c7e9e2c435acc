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
  /** `detail` of an occurrence that gives none: every problem on the wire says what happened. */
  readonly detail: string;
}

const BASE = 'https://portcullis.dev/problems/';

function define(slug: string, status: number, title: string, detail: string): ProblemType {
  return Object.freeze({ type: BASE + slug, title, status, detail });
}

export const problems = {
  badRequest: define('bad-request', 400, 'Bad request', 'the request is malformed'),
  invalidRequest: define(
    'invalid-request',
    400,
    'Request does not match the API description',
    'the request does not match the operation in the API description',
  ),
  unauthorized: define('unauthorized', 401, 'Authentication required', 'this operation requires credentials'),
  invalidToken: define(
    'invalid-token',
    401,
    'Invalid credentials',
    'the credentials presented are not valid',
  ),
  invalidDpopProof: define(
    'invalid-dpop-proof',
    401,
    'Invalid DPoP proof',
    'the DPoP proof is missing or not valid for this request',
  ),
  forbidden: define('forbidden', 403, 'Access denied', 'the caller is not allowed to perform this operation'),
  insufficientScope: define(
    'insufficient-scope',
    403,
    'Insufficient scope',
    'the token lacks a scope this operation requires',
  ),
  banned: define(
    'banned',
    403,
    'Client temporarily banned',
    'this client is temporarily banned after suspicious activity',
  ),
  notFound: define(
    'not-found',
    404,
    'No such operation',
    'no operation of the API is declared for this method and path',
  ),
  methodNotAllowed: define(
    'method-not-allowed',
    405,
    'Method not allowed',
    'this method is not declared for this path',
  ),
  notAcceptable: define(
    'not-acceptable',
    406,
    'Not acceptable',
    'no declared response media type matches the Accept header',
  ),
  requestTimeout: define('request-timeout', 408, 'Request timeout', 'the request was not received in time'),
  payloadTooLarge: define(
    'payload-too-large',
    413,
    'Request body too large',
    'the request body is larger than allowed',
  ),
  uriTooLong: define('uri-too-long', 414, 'URI too long', 'the request target is longer than allowed'),
  unsupportedMediaType: define(
    'unsupported-media-type',
    415,
    'Unsupported media type',
    'the request body media type is not declared for this operation',
  ),
  misdirectedRequest: define(
    'misdirected-request',
    421,
    'Unknown host',
    'no API is configured for this host',
  ),
  injectionDetected: define(
    'injection-detected',
    400,
    'Request rejected by the injection guard',
    'the request contains a pattern the injection guard refuses',
  ),
  ssrfBlocked: define(
    'ssrf-blocked',
    400,
    'URL points to a forbidden destination',
    'a URL in the request points to a forbidden destination',
  ),
  headersTooLarge: define(
    'headers-too-large',
    431,
    'Request header fields too large',
    'the request header section is larger than allowed',
  ),
  // RFC 9457 registry entries named by draft-ietf-httpapi-ratelimit-headers.
  quotaExceeded: Object.freeze({
    type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
    title: 'Quota exceeded',
    status: 429,
    detail: 'the request quota for this client is used up; retry after the time in Retry-After',
  }),
  abnormalUsage: Object.freeze({
    type: 'https://iana.org/assignments/http-problem-types#abnormal-usage-detected',
    title: 'Abnormal usage detected',
    status: 429,
    detail: 'the usage pattern of this client was flagged as abnormal',
  }),
  temporaryReducedCapacity: Object.freeze({
    type: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
    title: 'Temporarily reduced capacity',
    status: 503,
    detail: 'capacity is temporarily reduced; retry later',
  }),
  // Admin API (src/admin/api.ts).
  resourceNotFound: define('resource-not-found', 404, 'No such resource', 'no such resource'),
  configRejected: define(
    'config-rejected',
    422,
    'Config rejected; the running config is unchanged',
    'the config was rejected; the running config is unchanged',
  ),
  internal: define(
    'internal',
    500,
    'Internal gateway error',
    'the gateway failed to handle the request; the incident is logged with this request id',
  ),
  upstreamError: define('upstream-error', 502, 'Upstream error', 'the upstream answered with an error'),
  badGateway: define(
    'bad-gateway',
    502,
    'Upstream unreachable',
    'the upstream could not be reached or broke off its answer; retrying later may succeed',
  ),
  upstreamResponseRejected: define(
    'upstream-response-rejected',
    502,
    'Upstream response withheld',
    'the upstream response was withheld by response protection',
  ),
  serviceUnavailable: define(
    'service-unavailable',
    503,
    'Service unavailable',
    'the service is unavailable; retry later',
  ),
  circuitOpen: define(
    'circuit-open',
    503,
    'Upstream circuit open',
    'the upstream is failing and calls to it are suspended; retry after the time in Retry-After',
  ),
  gatewayTimeout: define(
    'gateway-timeout',
    504,
    'Upstream timed out',
    'the upstream did not answer in time; retrying later may succeed',
  ),
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
    detail: p.detail ?? p.problem.detail,
    instance: `urn:portcullis:request:${instance}`,
    ...p.extensions,
  });
}
