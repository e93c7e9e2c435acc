import { createHash } from 'node:crypto';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  type ConsumeRequest,
  type ConsumeResult,
  type LeaseRef,
  type LimitResult,
  StoreUnavailableError,
} from './limiter.ts';
import { ALGORITHM_CODES, LIMIT_SCRIPT } from './redis-limit-script.ts';
import type { StateStore } from './store.ts';

/** Most decisions sent in one script call (bounds how long one call keeps Redis busy). */
const MAX_BATCH = 64;

/** Options of the Redis store. */
export interface RedisStoreOptions {
  /** `redis://host:port/db` (ignored when `client` is given). */
  url?: string;
  /** An existing client, e.g. an ioredis `Cluster`; the store then does not own its lifetime options. */
  client?: Redis | Cluster;
  /** Prefix of every key this store writes (no `{`: limiter keys carry their own hash tags). */
  keyPrefix?: string;
  /** A command that takes longer fails with `StoreUnavailableError` reason `timeout` (ms, default 500). */
  commandTimeoutMs?: number;
  /** Called when the connection becomes usable or stops being usable (for events and metrics). */
  onStatus?(status: 'ready' | 'unavailable', detail?: string): void;
}

/**
 * Redis-backed store for several gateway instances. Each limiter decision is atomic inside one `EVALSHA` of
 * `LIMIT_SCRIPT` (loaded with `EVAL` on `NOSCRIPT`, e.g. after a restart or `SCRIPT FLUSH`); decisions of one
 * event-loop turn share the call. Time comes from
 * the gateway clock passed in the request, not from Redis `TIME`: both backends then share one time source
 * and one code path for calendar windows, and tests can drive time; the cost is that instances must keep
 * their clocks in sync (NTP), a skew of δ ms letting at most δ/T extra GCRA units through.
 *
 * The client never queues commands while disconnected (`enableOfflineQueue: false`), so an outage fails
 * fast into the policy's fail mode, and it reconnects in the background without a restart.
 *
 * @example
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'pc:' });
 */
export function createRedisStore(opts: RedisStoreOptions): StateStore & {
  readonly client: Redis | Cluster;
  isReady(): boolean;
  /** Resolves true once the connection is usable, or false after `ms` without it. */
  whenReady(ms: number): Promise<boolean>;
} {
  const prefix = opts.keyPrefix ?? 'pc:';
  if (prefix.includes('{')) throw new TypeError('keyPrefix must not contain "{"');
  const timeoutMs = opts.commandTimeoutMs ?? 500;
  const redisOptions: RedisOptions = {
    enableOfflineQueue: false,
    // Decisions issued in the same tick go out in one write: fewer syscalls per decision under load.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    // Backstop only: `call` gives up much earlier; this frees a command that never gets an answer.
    commandTimeout: 4 * timeoutMs,
    connectTimeout: 2000,
    // Keep trying forever, at most once a second, so limits come back without a restart.
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  const client = opts.client ?? new Redis(opts.url ?? 'redis://127.0.0.1:6379', redisOptions);
  const sha = createHash('sha1').update(LIMIT_SCRIPT).digest('hex');
  let ready = client.status === 'ready';
  client.on('ready', () => {
    ready = true;
    opts.onStatus?.('ready');
  });
  client.on('error', (err: Error) => {
    // Must be handled, or Node would crash on a refused connection; the status change is what matters.
    if (ready) opts.onStatus?.('unavailable', (err as { code?: string }).code ?? 'error');
    ready = false;
  });
  client.on('close', () => {
    if (ready) opts.onStatus?.('unavailable', 'closed');
    ready = false;
  });

  /** Runs a command with a deadline; every failure becomes a `StoreUnavailableError` with its reason. */
  function call<T>(fn: () => Promise<T>): Promise<T> {
    if (!ready) return Promise.reject(new StoreUnavailableError('state store disconnected', 'disconnected'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new StoreUnavailableError(`state store gave no answer in ${timeoutMs} ms`, 'timeout')),
        timeoutMs,
      );
      fn().then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(
            new StoreUnavailableError('state store unavailable', ready ? 'error' : 'disconnected', {
              cause: err,
            }),
          );
        },
      );
    });
  }

  function isNoScript(err: unknown): boolean {
    // Redis error replies start with an error code; NOSCRIPT is that code, not free text.
    return err instanceof Error && err.message.startsWith('NOSCRIPT');
  }

  async function runScript(keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return await client.eval(LIMIT_SCRIPT, keys.length, ...keys, ...args);
    }
  }

  /** Sends decisions in one script call and splits the answer. */
  async function decideAll(requests: readonly ConsumeRequest[]): Promise<ConsumeResult[]> {
    const keys: string[] = [];
    const args: Array<string | number> = [requests.length];
    for (const request of requests) {
      args.push(request.limits.length, request.nowMs, request.leaseId);
      for (const l of request.limits) {
        keys.push(prefix + l.key);
        args.push(
          ALGORITHM_CODES[l.algorithm],
          l.limit,
          l.windowMs,
          l.burst,
          l.algorithm === 'sliding-window' ? l.subWindows : l.windowEndMs,
          l.cost,
          l.countRejected ? '1' : '0',
        );
      }
    }
    const out = (await call(() => runScript(keys, args))) as number[];
    const all: ConsumeResult[] = [];
    let o = 0;
    for (const request of requests) {
      const allowed = out[o++] === 1;
      const results: LimitResult[] = [];
      for (let i = 0; i < request.limits.length; i++, o += 4) {
        results.push({
          allowed: out[o] === 1,
          remaining: out[o + 1],
          resetMs: out[o + 2],
          retryAfterMs: out[o + 3],
        });
      }
      all.push({ allowed, results });
    }
    return all;
  }

  // Standalone Redis: decisions taken in the same event-loop turn share one script call (each decision stays
  // atomic: a script runs alone). A Cluster gets one call per decision, since only one decision's keys are
  // known to share a slot.
  const batching = !(client as { isCluster?: boolean }).isCluster;
  let queue: Array<{ request: ConsumeRequest; resolve(r: ConsumeResult): void; reject(e: unknown): void }> =
    [];
  function flush(): void {
    const batch = queue;
    queue = [];
    for (let i = 0; i < batch.length; i += MAX_BATCH) {
      const chunk = batch.slice(i, i + MAX_BATCH);
      decideAll(chunk.map((q) => q.request)).then(
        (results) => {
          for (let j = 0; j < chunk.length; j++) chunk[j].resolve(results[j]);
        },
        (err) => {
          for (const q of chunk) q.reject(err);
        },
      );
    }
  }

  function consume(request: ConsumeRequest): Promise<ConsumeResult> {
    if (!batching) return decideAll([request]).then((r) => r[0]);
    return new Promise((resolve, reject) => {
      if (queue.push({ request, resolve, reject }) === 1) setImmediate(flush);
    });
  }

  return {
    kind: 'redis',
    client,
    isReady: () => ready,
    whenReady(ms) {
      if (ready) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (v: boolean) => {
          clearTimeout(timer);
          client.off('ready', onReady);
          resolve(v);
        };
        const onReady = () => done(true);
        const timer = setTimeout(() => done(false), ms);
        client.on('ready', onReady);
      });
    },
    async get(key) {
      const v = await call(() => client.get(prefix + key));
      return v ?? undefined;
    },
    async set(key, value, ttlMs) {
      await call(() => client.set(prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs))));
    },
    async setIfAbsent(key, value, ttlMs) {
      const r = await call(() => client.set(prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
      return r === 'OK';
    },
    async delete(key) {
      await call(() => client.del(prefix + key));
    },
    async scan(keyPrefix, limit) {
      const match = `${(prefix + keyPrefix).replace(/[*?[\]\\]/g, '\\$&')}*`;
      const out: Array<{ key: string; value: string; ttlMs: number }> = [];
      let cursor = '0';
      do {
        const [next, found] = (await call(() =>
          (client as Redis).scan(cursor, 'MATCH', match, 'COUNT', 200),
        )) as [string, string[]];
        cursor = next;
        for (const k of found) {
          if (out.length >= limit) break;
          const [value, ttl] = await call(() => Promise.all([client.get(k), client.pttl(k)]));
          if (value !== null && ttl !== -2) out.push({ key: k.slice(prefix.length), value, ttlMs: ttl });
        }
      } while (cursor !== '0' && out.length < limit);
      return out;
    },
    consume,
    async release(leases: readonly LeaseRef[]) {
      try {
        await Promise.all(leases.map((l) => client.zrem(prefix + l.key, l.leaseId)));
      } catch {
        // The lease expires by itself after its time to live; nothing else to do.
      }
    },
    async close() {
      if (opts.client === undefined) client.disconnect();
    },
  };
}
