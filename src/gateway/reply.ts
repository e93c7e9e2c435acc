import type { ServerResponse } from 'node:http';
import type { Problem } from '../core/problems.ts';
import { writeProblem } from '../core/reply.ts';
import type { Flight } from './flight.ts';

/**
 * Writes a problem (RFC 9457) as the response: the one writer of gateway problems. A response whose
 * head already went out cannot change its status any more: its connection is cut instead.
 */
export function sendProblem(
  res: ServerResponse,
  id: string,
  p: Problem,
  hsts: string | undefined,
  responseHeaders?: Record<string, string | string[]>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | string[]> = { ...responseHeaders, 'x-request-id': id };
  if (hsts) headers['strict-transport-security'] = hsts;
  writeProblem(res, p, id, headers);
}

/** Refuses the request: records the decision and who took it, and answers with the problem. */
export function deny(f: Flight, p: Problem, policy: string): void {
  f.decision = p.reason ?? p.problem.type.slice(p.problem.type.lastIndexOf('/') + 1);
  f.deniedBy = policy;
  sendProblem(f.res, f.id, p, f.hsts, f.ex?.responseHeadersAdded);
}
