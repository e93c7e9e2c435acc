/**
 * Failed admin credentials per client: wrong tokens at `/api/login`, and wrong bearer tokens or cookies on
 * any admin API route, count toward one allowance per client address (OWASP API2:2023, CWE-307). Per
 * client, so that one guesser locks out itself and not the operator on another machine.
 */
import type { Clock } from '../core/clock.ts';
import { groupIp } from '../shared/ip.ts';

export interface AuthLockoutOptions {
  readonly clock: Clock;
  /** Failed attempts a client may make in one window; the next ones are refused until it ends. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /**
   * Clients tracked at once (the keys are client addresses: the table must be bounded). Clients beyond
   * it share one allowance, so a guesser with many addresses gains nothing by filling the table.
   */
  readonly maxClients: number;
}

export interface AuthLockout {
  /** Seconds until `client` may try again, or undefined when it may try now. */
  retryAfterSeconds(client: string): number | undefined;
  /** Counts one failed attempt of `client`; returns its failures in the current window. */
  fail(client: string): number;
  /** Clients tracked now (for tests and metrics). */
  size(): number;
}

interface Window {
  readonly endsAt: number;
  failures: number;
}

/**
 * The key a client's failures count under: its address, IPv4-mapped IPv6 as IPv4, IPv6 by /64 (one host
 * usually holds a whole /64, RFC 4291 §2.5.4: rotating within it must not reset the count).
 */
export function lockoutKey(address: string): string {
  return groupIp(address, 32, 64);
}

/**
 * Creates the per-client lockout.
 *
 * @example
 * const lockout = createAuthLockout({ clock, maxFailures: 20, windowMs: 60_000, maxClients: 4096 });
 * if (lockout.retryAfterSeconds(ip) !== undefined) refuse(); else if (!ok) lockout.fail(ip);
 */
export function createAuthLockout(opts: AuthLockoutOptions): AuthLockout {
  const windows = new Map<string, Window>();
  /** The allowance clients share when the table is full. */
  let overflow: Window | undefined;

  const live = (w: Window | undefined, now: number) => (w !== undefined && w.endsAt > now ? w : undefined);

  const prune = (now: number) => {
    // Every window is as long as the others, so insertion order is expiry order: stop at the first live one.
    for (const [key, w] of windows) {
      if (w.endsAt > now) break;
      windows.delete(key);
    }
  };

  /** The window `client` counts in now, if any; drops expired ones on the way. */
  const current = (client: string, now: number): Window | undefined => {
    const key = lockoutKey(client);
    const w = windows.get(key);
    if (w !== undefined) {
      if (w.endsAt > now) return w;
      windows.delete(key);
    }
    if (windows.size >= opts.maxClients) prune(now);
    return windows.size >= opts.maxClients ? live(overflow, now) : undefined;
  };

  return {
    retryAfterSeconds(client) {
      const now = opts.clock.now();
      const w = current(client, now);
      if (w === undefined || w.failures < opts.maxFailures) return undefined;
      return Math.max(1, Math.ceil((w.endsAt - now) / 1000));
    },
    fail(client) {
      const now = opts.clock.now();
      const w = current(client, now);
      if (w !== undefined) return ++w.failures;
      const fresh: Window = { endsAt: now + opts.windowMs, failures: 1 };
      if (windows.size < opts.maxClients) windows.set(lockoutKey(client), fresh);
      else overflow = fresh;
      return 1;
    },
    size: () => windows.size,
  };
}
