/**
 * The scan's time: one deadline for the whole scan, shared out among the discovery and the checks by the work each
 * has on this document. Each phase's fixed work (its logins, its burst, its well-known paths) is kept whole while
 * the time allows; the work per operation is what shrinks on a large document. A phase's budget is computed when
 * its turn comes, from the time left, so time a phase did not use goes to those after it.
 */
import type { ApiDocument } from '../../core/api-document.ts';

/** Time kept back from the checks for the end-of-scan clean-up (deleting the scan's own accounts). */
export const CLEANUP_RESERVE_MS = 4000;
/** No phase gets less than this while time is left: a check that cannot finish still tries its first probes. */
export const MIN_PHASE_MS = 1500;
/**
 * A check's signal aborts this long after its budget ends (`ScanContext.deadline`): time for a check that stops at
 * its deadline to delete what it created, before it is cut off.
 */
export const GRACE_MS = 2000;
/**
 * The least part of the time left a phase may take when its turn comes, whatever its estimated work. Discovery: every
 * check stands on the objects and values it finds, and its requests go one after another (each waits for the answer
 * before it, to use what it gave out), while much of the checks' go side by side; on a target that answers slowly
 * (150 ms) its share by request count bought it only the first reads, and the scan made nothing to test with (review
 * R1). API1: the check that uses those objects most, whose work is all per operation (the first to be cut when the
 * fixed work of the checks after it does not fit). Time a phase does not use goes to the phases after it.
 */
export const MIN_SHARE: Readonly<Record<string, number>> = { discovery: 0.3, API1: 0.15 };

/** A phase's work in requests: what it sends whatever the document's size, and what it sends per operation. */
export interface Work {
  readonly fixed: number;
  readonly variable: number;
}

/**
 * Requests a phase sends, roughly: a fixed part (logins, bursts, well-known paths) and a part per operation.
 * Measured on a 20-operation and a 113-operation document (test/fixtures/scan-targets/fastapi-petclinic,
 * test/scanner/large-api.ts). API6, API7 and API10 send little but wait for callbacks or delays: their fixed part
 * stands for that wait.
 */
const WORK: Readonly<Record<string, { readonly fixed: number; readonly perOperation: number }>> = {
  discovery: { fixed: 10, perOperation: 2.7 },
  API1: { fixed: 5, perOperation: 2.4 },
  API2: { fixed: 120, perOperation: 0.2 },
  API3: { fixed: 10, perOperation: 5 },
  API4: { fixed: 75, perOperation: 0.6 },
  API5: { fixed: 30, perOperation: 0.6 },
  API6: { fixed: 20, perOperation: 0.3 },
  API7: { fixed: 30, perOperation: 0.3 },
  API8: { fixed: 300, perOperation: 2.5 },
  API9: { fixed: 180, perOperation: 1 },
  API10: { fixed: 30, perOperation: 0.2 },
};

/** A phase's estimated work on this document (an unknown phase: a small fixed part and one request per operation). */
export function estimateWork(phase: string, spec: Pick<ApiDocument, 'operations'>): Work {
  const w = WORK[phase] ?? { fixed: 20, perOperation: 1 };
  return { fixed: w.fixed, variable: w.perOperation * spec.operations.length };
}

/**
 * The time the next phase gets, in ms. `work` is its own estimate first, then those of the phases after it;
 * `requestsPerSecond` the pace the scan keeps. The time left until `deadline` (less the clean-up's reserve) buys
 * that many requests: the fixed parts first, whole if they fit (else each shrunk alike), the per-operation parts
 * from what remains, each shrunk alike. The phase's budget is its part of the time left, at least MIN_PHASE_MS
 * while any is left, and at least `minShare` of the time left (MIN_SHARE), at most `capMs` (the
 * per-check timeout). 0 when the deadline has passed.
 */
export function phaseBudget(
  now: number,
  deadline: number,
  work: readonly Work[],
  capMs: number,
  requestsPerSecond: number,
  minShare = 0,
): number {
  const left = deadline - CLEANUP_RESERVE_MS - now;
  if (left <= 0 || work.length === 0) return 0;
  const affordable = (left / 1000) * Math.max(0.1, requestsPerSecond);
  const fixed = work.reduce((a, w) => a + Math.max(0, w.fixed), 0);
  const variable = work.reduce((a, w) => a + Math.max(0, w.variable), 0);
  // How much of the per-operation work fits once the fixed work is paid for (0..1).
  const scale = variable > 0 ? Math.min(1, Math.max(0, affordable - fixed) / variable) : 0;
  const own = Math.max(0, work[0].fixed) + Math.max(0, work[0].variable) * scale;
  const all = fixed + variable * scale;
  const share = Math.max(minShare, all > 0 ? own / all : 1 / work.length);
  return Math.round(Math.min(capMs, left, Math.max(MIN_PHASE_MS, left * share)));
}
