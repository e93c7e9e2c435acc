import { createHash } from 'node:crypto';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../core/clock.ts';
import type { EventSink } from '../core/events.ts';
import type { MetricsRegistry } from '../core/metrics.ts';
import { type AvailabilityTransition, createAvailability } from './availability.ts';
import {
  type ConsumeRequest,
  type ConsumeResult,
  type LeaseRef,
  type LimitResult,
  StoreUnavailableError,
} from './limiter.ts';
import { encodeDecision, LIMIT_SCRIPT } from './redis-limit-script.ts';
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
  /**
   * Timeouts or errors in a row that open an outage (default 3): every caller is then refused at once
   * (`StoreUnavailableError` reason `outage`) and decides by its fail mode, until a probe answers.
   */
  failureThreshold?: number;
  /** During an outage, one `PING` (with the command timeout) this often (ms, default 1000). */
  probeIntervalMs?: number;
  /**
   * During an outage, a connection that has answered nothing for this long is replaced by a new one (ms,
   * default 10 000; only for a client the store owns): the kernel may take many minutes to give up on a
   * black-holed connection, and the commands and PINGs waiting on it are dropped with it (never resent).
   */
  reconnectAfterMs?: number;
  /** One warning per outage and one line when it ends; nothing per request. */
  logger?: Logger;
  /** `state-store-unavailable` and `state-store-recovered`, one per transition. */
  events?: EventSink;
  /** `portcullis_state_store_*` counters and the availability gauge. */
  metrics?: MetricsRegistry;
  /** Timestamps of the events (default: the system clock). */
  clock?: Clock;
  /** Called once per transition, after the log line and the event. */
  onStatus?(status: 'ready' | 'unavailable', transition: AvailabilityTransition): void;
}

/**
 * Redis-backed store for several gateway instances. Each limiter decision is atomic inside one `EVALSHA` of
 * `LIMIT_SCRIPT` (loaded with `EVAL` on `NOSCRIPT`, e.g. after a restart or `SCRIPT FLUSH`); decisions of one
 * event-loop turn share the call. Time comes from
 * the gateway clock passed in the request, not from Redis `TIME`: both backends then share one time source
 * and one code path for calendar windows, and tests can drive time; the cost is that instances must keep
 * their clocks in sync (NTP), a skew of δ ms letting at most δ/T extra GCRA units through.
 *
 * The client never queues commands while disconnected (`enableOfflineQueue: false`), never retries or
 * resends a command after a reconnect (an answer a caller gave up on must not be applied later), and
 * reconnects in the background without a restart. A store that stops answering with the connection still
 * open (a frozen process, a silent partition) opens an outage after `failureThreshold` failures in a row:
 * callers are then refused without a round trip, and one background `PING` decides when it is back
 * (see `availability.ts`).
 *
 * @example
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'pc:' });
 */
export function createRedisStore(opts: RedisStoreOptions): StateStore & {
  readonly client: Redis | Cluster;
  isReady(): boolean;
  /** Limiter script calls sent so far (each carries one or more decisions). */
  scriptCalls(): number;
  /** False during an outage (callers are refused without asking Redis) or while disconnected. */
  isAvailable(): boolean;
  /** Resolves true once the connection is usable, or false after `ms` without it. */
  whenReady(ms: number): Promise<boolean>;
} {
  const prefix = opts.keyPrefix ?? 'pc:';
  if (prefix.includes('{')) throw new TypeError('keyPrefix must not contain "{"');
  const timeoutMs = opts.commandTimeoutMs ?? 500;
  const failureThreshold = opts.failureThreshold ?? 3;
  const probeIntervalMs = opts.probeIntervalMs ?? 1000;
  const reconnectAfterMs = opts.reconnectAfterMs ?? 10_000;
  const clock = opts.clock ?? systemClock;
  const redisOptions: RedisOptions = {
    enableOfflineQueue: false,
    // Decisions issued in the same tick go out in one write: fewer syscalls per decision under load.
    enableAutoPipelining: true,
    // A command is never retried on another connection, nor resent after a reconnect: its caller has
    // already been answered by the fail mode, and a late decision would consume quota twice.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Backstop only: `call` gives up at `timeoutMs`; this settles ioredis's own promise for a Redis that
    // never answers, about when the connection would be replaced. It must outlast any stall of this process
    // that `call`'s deadline forgives (expireAfterPendingIo): ioredis rejects from its timer, before the
    // poll phase reads a reply that came during the stall, so at 2 × timeoutMs a one-second GC pause or
    // starved CPU failed every call in flight and opened an outage.
    commandTimeout: reconnectAfterMs + timeoutMs,
    connectTimeout: 2000,
    // Keep trying forever, at most once a second, so limits come back without a restart.
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  const client = opts.client ?? new Redis(opts.url ?? 'redis://127.0.0.1:6379', redisOptions);
  const sha = createHash('sha1').update(LIMIT_SCRIPT).digest('hex');
  let ready = client.status === 'ready';

  const refusedReasons = ['timeout', 'error', 'disconnected', 'outage'] as const;
  const callErrors = opts.metrics?.counter(
    'portcullis_state_store_errors_total',
    'State store calls that got no answer, by reason: timeout, error, disconnected, or outage (refused at once, without asking the store, while it is unavailable).',
    ['reason'],
  );
  const callError = Object.fromEntries(
    refusedReasons.map((r) => [r, callErrors?.bind({ reason: r }) ?? { inc() {} }]),
  ) as Record<(typeof refusedReasons)[number], { inc(): void }>;
  const outages = opts.metrics?.counter(
    'portcullis_state_store_unavailable_total',
    'Outages of the state store (each counted once, when it is declared), by reason.',
    ['reason'],
  );

  /** Since when (performance.now) the current connection has answered nothing during the outage. */
  let silentSince = 0;
  const availability = createAvailability({
    failureThreshold,
    probeIntervalMs,
    now: () => clock.now(),
    probe,
    onTransition(t) {
      silentSince = performance.now();
      if (!t.available) outages?.inc({ reason: t.reason });
      report(t);
      opts.onStatus?.(t.available ? 'ready' : 'unavailable', t);
    },
  });
  opts.metrics?.gauge(
    'portcullis_state_store_available',
    '1 while the state store answers; 0 during an outage or while disconnected (callers use their fail modes).',
    [],
    () => (ready && availability.isAvailable() ? 1 : 0),
    'min',
  );

  /** One log line and one event per transition. */
  function report(t: AvailabilityTransition): void {
    const fields = {
      store: 'redis',
      reason: t.reason,
      operation: t.operation,
      ...(t.keyspace === undefined ? {} : { keyspace: t.keyspace }),
    };
    if (t.available)
      opts.logger?.warn(
        { ...fields, outageMs: t.outageMs, refused: t.refused },
        'state store available again; callers use it again',
      );
    else
      opts.logger?.warn(
        { ...fields, failures: t.failures, failureThreshold, probeIntervalMs, commandTimeoutMs: timeoutMs },
        'state store unavailable; callers use their fail modes without asking it until a probe answers',
      );
    opts.events?.emit({
      '@timestamp': new Date(clock.now()).toISOString(),
      'event.kind': 'event',
      'event.category': 'database',
      'event.type': t.available ? 'info' : 'error',
      'event.action': t.available ? 'state-store-recovered' : 'state-store-unavailable',
      'event.outcome': t.available ? 'success' : 'failure',
      'event.reason': t.reason,
      'portcullis.state_store.kind': 'redis',
      'portcullis.state_store.operation': t.operation,
      ...(t.keyspace === undefined ? {} : { 'portcullis.state_store.keyspace': t.keyspace }),
      ...(t.available
        ? { 'portcullis.state_store.outage_ms': t.outageMs, 'portcullis.state_store.refused': t.refused }
        : { 'portcullis.state_store.failures': t.failures }),
    });
  }

  const reconnects = opts.metrics?.counter(
    'portcullis_state_store_reconnects_total',
    'Connections to the state store replaced during an outage because they answered nothing for reconnectAfterMs.',
  );

  /**
   * One `PING` with the command timeout; true when answered. Only while the connection is up; a connection
   * (or connection attempt) silent for `reconnectAfterMs` is replaced instead.
   */
  function probe(): Promise<boolean> {
    const owned = opts.client === undefined;
    const status = (client as Redis).status;
    if (
      owned &&
      (status === 'ready' || status === 'connect') &&
      performance.now() - silentSince >= reconnectAfterMs
    ) {
      silentSince = performance.now();
      reconnects?.inc();
      (client as Redis).disconnect(true);
      return Promise.resolve(false);
    }
    if (!ready) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = expireAfterPendingIo(timeoutMs, () => resolve(false));
      client.ping().then(
        (pong) => {
          clearTimeout(timer);
          resolve(pong === 'PONG');
        },
        () => {
          clearTimeout(timer);
          resolve(false);
        },
      );
    });
  }

  client.on('ready', () => {
    // A connection the probe replaced can still have its ready check answered, when Redis comes back between
    // the check and the replacement's end: that connection is closing (its close would be a second outage),
    // so the next connection's ready check ends the outage instead.
    if ((client as Redis).stream?.writableEnded === true) return;
    ready = true;
    // The connection's ready check (INFO) was answered: Redis is back, whatever opened the outage.
    availability.restored();
  });
  client.on('error', () => {
    // Must be handled, or Node would crash on a refused connection. A failed first connection opens an
    // outage too (reported once), so a Redis that is down at start is visible the same way.
    if (!ready) availability.lost('connect');
  });
  client.on('close', () => {
    if (ready) {
      ready = false;
      availability.lost('connection');
    }
  });

  /** Answers a call during an outage, without a round trip. */
  function refuse(): Promise<never> {
    availability.refuse();
    callError.outage.inc();
    return Promise.reject(
      new StoreUnavailableError('state store unavailable; not asked until a probe answers', 'outage'),
    );
  }

  /**
   * Runs a command with a deadline; every failure becomes a `StoreUnavailableError` with its reason. During
   * an outage the command is not sent at all.
   */
  function call<T>(operation: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (!availability.isAvailable()) return refuse();
    if (!ready) {
      callError.disconnected.inc();
      return Promise.reject(new StoreUnavailableError('state store disconnected', 'disconnected'));
    }
    const epoch = availability.epoch();
    return new Promise<T>((resolve, reject) => {
      // The first outcome counts, once: ioredis settles a command we gave up on later (its own
      // `commandTimeout`, or a late reply), and that must not count as a second failure or as a success.
      let settled = false;
      const timer = expireAfterPendingIo(timeoutMs, () => {
        if (settled) return;
        settled = true;
        callError.timeout.inc();
        availability.failed(epoch, 'timeout', operation, key);
        reject(new StoreUnavailableError(`state store gave no answer in ${timeoutMs} ms`, 'timeout'));
      });
      fn().then(
        (v) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          availability.succeeded(epoch);
          resolve(v);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const reason = ready ? 'error' : 'disconnected';
          callError[reason].inc();
          // A lost connection is reported by its `close` event; an error reply counts towards an outage.
          if (reason === 'error') availability.failed(epoch, 'error', operation, key);
          reject(new StoreUnavailableError('state store unavailable', reason, { cause: err }));
        },
      );
    });
  }

  function isNoScript(err: unknown): boolean {
    // Redis error replies start with an error code; NOSCRIPT is that code, not free text.
    return err instanceof Error && err.message.startsWith('NOSCRIPT');
  }

  async function runScript(keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return await client.eval(LIMIT_SCRIPT, keys.length, ...keys, ...args);
    }
  }

  /** Script calls sent (each carries one or more decisions); read by the tests of batching. */
  let scriptCalls = 0;

  /** Sends decisions in one script call and splits the answer. */
  async function decideAll(requests: readonly ConsumeRequest[]): Promise<ConsumeResult[]> {
    const keys: string[] = [];
    const args: string[] = [];
    for (const request of requests) {
      args.push(encodeDecision(request));
      for (const l of request.limits) keys.push(prefix + l.key);
    }
    scriptCalls++;
    const out = (await call('consume', requests[0].limits[0]?.key, () => runScript(keys, args))) as number[];
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

  // Standalone Redis: decisions share script calls (each decision stays atomic: a script runs alone), and
  // one call at a time is in flight: the decisions that arrive while it is out wait for its answer and then
  // go out together in the next call (Nagle-like), so under load a call carries the decisions of a whole
  // round trip instead of one event-loop turn's one or two. The wait is bounded: decisions that have waited
  // `holdMs` (a tenth of the command timeout) go out in a call of their own even if the one in flight has not answered (a slow or frozen
  // Redis), so no decision waits much more than one command timeout for its answer. A Cluster gets one
  // call per decision, since only one decision's keys are known to share a slot.
  const batching = !(client as { isCluster?: boolean }).isCluster;
  const holdMs = Math.max(1, timeoutMs / 10);
  type Queued = { request: ConsumeRequest; resolve(r: ConsumeResult): void; reject(e: unknown): void };
  let queue: Queued[] = [];
  /** Script calls not yet settled. */
  let inFlight = 0;
  /** The queue's flush is due: at the end of this turn (`immediate`) or after `holdMs` (`hold`). */
  let due: 'none' | 'immediate' | 'hold' = 'none';
  let holdTimer: NodeJS.Timeout | undefined;

  function flush(): void {
    if (due === 'hold') clearTimeout(holdTimer);
    due = 'none';
    const batch = queue;
    queue = [];
    for (let i = 0; i < batch.length; i += MAX_BATCH) send(batch.slice(i, i + MAX_BATCH));
  }

  function send(chunk: Queued[]): void {
    inFlight++;
    decideAll(chunk.map((q) => q.request)).then(
      (results) => {
        settled();
        for (let j = 0; j < chunk.length; j++) chunk[j].resolve(results[j]);
      },
      (err) => {
        settled();
        for (const q of chunk) q.reject(err);
      },
    );
  }

  /** A call answered or failed: the decisions that waited for it go out at the end of this turn. */
  function settled(): void {
    inFlight--;
    if (inFlight === 0 && queue.length > 0 && due !== 'immediate') {
      if (due === 'hold') clearTimeout(holdTimer);
      due = 'immediate';
      setImmediate(flush);
    }
  }

  function consume(request: ConsumeRequest): Promise<ConsumeResult> {
    // Refused at once during an outage, without waiting for a batch.
    if (!availability.isAvailable()) return refuse();
    if (!batching) return decideAll([request]).then((r) => r[0]);
    return new Promise((resolve, reject) => {
      if (queue.push({ request, resolve, reject }) === 1 && due === 'none') {
        if (inFlight === 0) {
          due = 'immediate';
          setImmediate(flush);
        } else {
          due = 'hold';
          holdTimer = setTimeout(flush, holdMs);
        }
      }
    });
  }

  return {
    kind: 'redis',
    client,
    scriptCalls: () => scriptCalls,
    isReady: () => ready,
    isAvailable: () => ready && availability.isAvailable(),
    whenReady(ms) {
      if (ready) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (v: boolean) => {
          clearTimeout(timer);
          client.off('ready', onReady);
          resolve(v);
        };
        // After the store's own listener: a closing connection's ready check is no readiness.
        const onReady = () => {
          if (ready) done(true);
        };
        const timer = setTimeout(() => done(false), ms);
        client.on('ready', onReady);
      });
    },
    async get(key) {
      const v = await call('get', key, () => client.get(prefix + key));
      return v ?? undefined;
    },
    async set(key, value, ttlMs) {
      await call('set', key, () => client.set(prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs))));
    },
    async setIfAbsent(key, value, ttlMs) {
      const r = await call('setIfAbsent', key, () =>
        client.set(prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
      );
      return r === 'OK';
    },
    async delete(key) {
      await call('delete', key, () => client.del(prefix + key));
    },
    async scan(keyPrefix, limit) {
      const match = `${(prefix + keyPrefix).replace(/[*?[\]\\]/g, '\\$&')}*`;
      const out: Array<{ key: string; value: string; ttlMs: number }> = [];
      let cursor = '0';
      do {
        const [next, found] = (await call('scan', keyPrefix, () =>
          (client as Redis).scan(cursor, 'MATCH', match, 'COUNT', 200),
        )) as [string, string[]];
        cursor = next;
        for (const k of found) {
          if (out.length >= limit) break;
          const [value, ttl] = await call('scan', keyPrefix, () =>
            Promise.all([client.get(k), client.pttl(k)]),
          );
          if (value !== null && ttl !== -2) out.push({ key: k.slice(prefix.length), value, ttlMs: ttl });
        }
      } while (cursor !== '0' && out.length < limit);
      return out;
    },
    consume,
    async release(leases: readonly LeaseRef[]) {
      try {
        await Promise.all(
          leases.map((l) => call('release', l.key, () => client.zrem(prefix + l.key, l.leaseId))),
        );
      } catch {
        // The lease expires by itself after its time to live; nothing else to do.
      }
    },
    async close() {
      availability.close();
      if (opts.client === undefined) client.disconnect();
    },
  };
}

/**
 * A deadline that gives the answer the benefit of the doubt: when the timer is due, `expire` runs only after
 * one more poll phase has read whatever the sockets hold. A process that was stalled (a GC pause, a starved
 * CPU) wakes with both the timer due and the reply waiting, and libuv runs due timers and then the check
 * phase right after the poll phase in which the stall happened, without polling again; a plain timer (or
 * one immediate) would then report a timeout the store never had and push decisions to the fail mode. An
 * immediate queued from the check phase runs in the next iteration, after its poll.
 */
function expireAfterPendingIo(ms: number, expire: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(() => setImmediate(expire)), ms);
}
