/**
 * Decision reasons (`portcullis.decision` in access records, the `reason` label of
 * portcullis_decisions_total) that the gateway itself takes; policies add their own (`expired`,
 * `rule_denied`, ...). Readers of events (detectors, discovery, the dashboard) use these names from here,
 * never spelled again.
 */
export const GATEWAY_DECISIONS = {
  allow: 'allow',
  /** No operation of the API declares the path (404). */
  undeclaredRoute: 'undeclared_route',
  /** The path is declared, the method is not (405). */
  undeclaredMethod: 'undeclared_method',
  /** No operation matched, and the API's `undeclared: report` forwarded it anyway. */
  undeclaredReported: 'undeclared_reported',
  unknownHost: 'unknown_host',
  badHost: 'bad_host',
  badPath: 'bad_path',
  repeatedHeader: 'repeated_header',
  underscoreHeader: 'underscore_header',
  repeatedCredential: 'repeated_credential',
  bodyTooLarge: 'body_too_large',
  bodyTooSlow: 'body_too_slow',
  badRequestBody: 'bad_request_body',
  streamedBodiesPerClient: 'streamed_bodies_per_client',
  circuitOpen: 'circuit_open',
  policyError: 'policy_error',
  clientAborted: 'client_aborted',
  upstreamResponseIncomplete: 'upstream_response_incomplete',
} as const;

const UNDECLARED: ReadonlySet<unknown> = new Set([
  GATEWAY_DECISIONS.undeclaredRoute,
  GATEWAY_DECISIONS.undeclaredMethod,
  GATEWAY_DECISIONS.undeclaredReported,
]);

/**
 * True when no declared operation matched the request, refused or forwarded in report mode: the one
 * notion of a shadow endpoint that the shadow-API detector, API discovery and the dashboard share.
 */
export function isUndeclaredDecision(decision: unknown): boolean {
  return UNDECLARED.has(decision);
}
