/**
 * The outage state of a remote state store, shared by every caller of that store (ban checks, limiters,
 * quotas, DPoP replay, API-key lookups).
 *
 * ```
 *            failureThreshold failures in a row, or the connection lost
 *   available ──────────────────────────────────────────────────────────▶ unavailable
 *       ▲                                                                     │ one probe per
 *       └──────────── a probe answered, or the connection is ready again ◀────┘ probeIntervalMs
 * ```
 *
 * While unavailable, callers are refused at once and decide by their fail mode; only the probe talks to the
 * store, one at a time, in the background (issue 14: a frozen Redis cost every request the command
 * timeout). Each transition starts a new epoch: an answer to a command sent in an earlier epoch (sent
 * before the outage, timing out after the recovery) neither opens nor closes an outage.
 */

/** Why the store became unavailable. */
export type OutageReason = 'timeout' | 'error' | 'disconnected';

/** One change of availability, reported once per transition. */
export interface AvailabilityTransition {
  readonly available: boolean;
  /** Unavailable: what failed (`timeout`, `error`, `disconnected`); available: `probe` or `reconnected`. */
  readonly reason: string;
  /** The store operation whose failure opened the outage (`get`, `consume`, `connection`, …). */
  readonly operation: string;
  /** The first segment of the key it was about (`ban`, `rl`, `dpop`, …), when there was one. */
  readonly keyspace: string | undefined;
  /** Failures in a row that opened the outage. */
  readonly failures: number;
  /** On recovery: how long the outage lasted (ms), and how many calls were refused during it. */
  readonly outageMs?: number;
  readonly refused?: number;
}

export interface AvailabilityOptions {
  /** Failures in a row (timeouts or errors) that open an outage; at least 1. */
  readonly failureThreshold: number;
  /** How often the probe runs during an outage (ms). */
  readonly probeIntervalMs: number;
  /** Asks the store once; resolves true when it answered in time. Never rejects. */
  probe(): Promise<boolean>;
  onTransition(t: AvailabilityTransition): void;
  now(): number;
}

export interface Availability {
  /** False during an outage: refuse the call without asking the store. */
  isAvailable(): boolean;
  /** The current epoch, to hand back with the outcome of a command sent now. */
  epoch(): number;
  succeeded(epoch: number): void;
  failed(epoch: number, reason: Exclude<OutageReason, 'disconnected'>, operation: string, key?: string): void;
  /** The connection is gone: an outage at once (commands would fail anyway). */
  lost(operation: string): void;
  /** The connection is ready again (its ready check was answered): the outage, if any, ends. */
  restored(): void;
  /** Counts a call refused during the outage (reported with the recovery). */
  refuse(): void;
  close(): void;
}

function keyspaceOf(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  const colon = key.indexOf(':');
  return colon > 0 ? key.slice(0, colon) : undefined;
}

/**
 * Creates the outage state machine of one store connection.
 *
 * @example
 * const availability = createAvailability({ failureThreshold: 3, probeIntervalMs: 1000, probe, onTransition, now: Date.now });
 * if (!availability.isAvailable()) throw new StoreUnavailableError('…', 'outage');
 */
export function createAvailability(opts: AvailabilityOptions): Availability {
  if (!(Number.isInteger(opts.failureThreshold) && opts.failureThreshold >= 1))
    throw new RangeError('failureThreshold must be an integer ≥ 1');
  if (!(opts.probeIntervalMs > 0)) throw new RangeError('probeIntervalMs must be > 0');
  let epoch = 0;
  let failures = 0;
  let outage: { since: number; refused: number } | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  let probing = false;
  let closed = false;

  function enter(reason: OutageReason, operation: string, key: string | undefined): void {
    epoch++;
    outage = { since: opts.now(), refused: 0 };
    const t: AvailabilityTransition = {
      available: false,
      reason,
      operation,
      keyspace: keyspaceOf(key),
      failures,
    };
    failures = 0;
    // One probe at a time, on a timer of its own: no request ever waits on it.
    probeTimer = setInterval(probeOnce, opts.probeIntervalMs);
    probeTimer.unref();
    opts.onTransition(t);
  }

  function leave(reason: 'probe' | 'reconnected'): void {
    if (outage === undefined) return;
    epoch++;
    clearInterval(probeTimer);
    probeTimer = undefined;
    const { since, refused } = outage;
    outage = undefined;
    failures = 0;
    opts.onTransition({
      available: true,
      reason,
      operation: 'probe',
      keyspace: undefined,
      failures: 0,
      outageMs: opts.now() - since,
      refused,
    });
  }

  function probeOnce(): void {
    if (probing || closed) return;
    probing = true;
    const started = epoch;
    opts.probe().then((ok) => {
      probing = false;
      if (ok && started === epoch && !closed) leave('probe');
    });
  }

  return {
    isAvailable: () => outage === undefined,
    epoch: () => epoch,
    succeeded(e) {
      if (e === epoch && outage === undefined) failures = 0;
    },
    failed(e, reason, operation, key) {
      if (e !== epoch || outage !== undefined || closed) return;
      if (++failures >= opts.failureThreshold) enter(reason, operation, key);
    },
    lost(operation) {
      if (outage === undefined && !closed) enter('disconnected', operation, undefined);
    },
    restored() {
      if (!closed) leave('reconnected');
    },
    refuse() {
      if (outage !== undefined) outage.refused++;
    },
    close() {
      closed = true;
      clearInterval(probeTimer);
      probeTimer = undefined;
    },
  };
}
