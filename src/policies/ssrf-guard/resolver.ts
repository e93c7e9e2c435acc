import { lookup as dnsLookup } from 'node:dns/promises';
import type { Clock } from '../../core/clock.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';

/** Resolves a host name to every address it has (A and AAAA), as the OS resolver would for a fetch. */
export type LookupAll = (host: string) => Promise<string[]>;

/** The system resolver (`getaddrinfo`, hosts file included), all addresses. */
export const systemLookup: LookupAll = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface ResolverOptions {
  readonly lookup: LookupAll;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly timeoutMs: number;
}

/** `undefined` means the name did not resolve (or not in time). */
export type CachedResolve = (host: string) => Promise<readonly string[] | undefined>;

/**
 * A resolver with a bounded cache (oldest entries evicted first; keys are client-chosen host names) and
 * a timeout. Failures are cached too, for a shorter time, so a flood of random names costs one lookup
 * each and cannot grow memory.
 */
export function createCachedResolver(opts: ResolverOptions): CachedResolve {
  const cache = new BoundedCache<string, { addresses: readonly string[] | undefined }>(opts.maxEntries);
  const inFlight = new Map<string, Promise<readonly string[] | undefined>>();
  const remember = (host: string, addresses: readonly string[] | undefined) => {
    const ttl = addresses === undefined ? Math.min(opts.ttlMs, 5000) : opts.ttlMs;
    const now = opts.clock.now();
    cache.set(host, { addresses }, now + ttl, now);
  };
  return (host) => {
    const hit = cache.get(host, opts.clock.now());
    if (hit !== undefined) return Promise.resolve(hit.addresses);
    const pending = inFlight.get(host);
    if (pending !== undefined) return pending;
    if (inFlight.size >= opts.maxEntries) return Promise.resolve(undefined); // fail closed under a flood
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), opts.timeoutMs);
      timer.unref();
    });
    const p = Promise.race([
      opts.lookup(host).then(
        (a) => (a.length > 0 ? a : undefined),
        () => undefined,
      ),
      timeout,
    ]).then((addresses) => {
      clearTimeout(timer);
      inFlight.delete(host);
      remember(host, addresses);
      return addresses;
    });
    inFlight.set(host, p);
    return p;
  };
}
