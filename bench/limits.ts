/**
 * Cost of one rate-limit decision in this process: memory vs Redis, side by side, as ops/s and ratios.
 * `npx node bench/limits.ts` prints the table; `npm run bench` calls `runLimitBench()` and can add
 * `limitScenarios` (end-to-end, through the proxy) beside pass-through.
 *
 * Environment: BENCH_LIMITS_MS (per measurement, default 1000), REDIS_URL (default redis://127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { systemClock } from '../src/core/clock.ts';
import type { Exchange } from '../src/core/exchange.ts';
import type { CompileContext, PolicyHandler } from '../src/core/policy.ts';
import { rateLimitPolicy } from '../src/policies/rate-limit/policy.ts';
import type { RateLimitConfig } from '../src/policies/rate-limit/schema.ts';
import type { LimitCheck } from '../src/state/limiter.ts';
import { createMemoryStore } from '../src/state/memory-store.ts';
import { createRedisStore } from '../src/state/redis-store.ts';
import type { StateStore } from '../src/state/store.ts';
import type { Scenario } from './scenario.ts';

const MS = Number(process.env.BENCH_LIMITS_MS ?? 1000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Limits high enough never to reject, so the proxy benchmark measures the decision, not 429s. */
const NEVER_REJECT: RateLimitConfig['limits'] = [
  { name: 'per-ip', algorithm: 'gcra', limit: 1_000_000_000, windowSeconds: 1, key: 'ip' },
];

/** End-to-end scenarios for bench/run.ts: pass-through plus a rate limit, memory and Redis. */
export const limitScenarios: Scenario[] = [
  {
    name: 'rate limit (memory)',
    kind: 'portcullis',
    api: { policies: { rateLimit: { limits: NEVER_REJECT } } },
  },
  {
    name: 'rate limit (redis)',
    kind: 'portcullis',
    api: { policies: { rateLimit: { limits: NEVER_REJECT } } },
    root: { state: { store: 'redis', redis: { url: REDIS_URL, keyPrefix: 'pcbench:' } } },
  },
];

interface Row {
  name: string;
  opsPerSec: number;
  /** CPU time of this process per decision (user + system): what a decision costs the gateway's core. */
  cpuUsPerOp: number;
}

/** Runs `op` with `concurrency` callers in flight for MS milliseconds. */
async function measure(name: string, concurrency: number, op: () => unknown): Promise<Row> {
  let n = 0;
  const end = performance.now() + MS;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  async function worker() {
    while (performance.now() < end) {
      // Batches of 64 keep the clock reads out of the measurement.
      for (let i = 0; i < 64; i++) {
        const r = op();
        if (r instanceof Promise) await r;
        n++;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  return {
    name,
    opsPerSec: n / ((performance.now() - start) / 1000),
    cpuUsPerOp: (cpu.user + cpu.system) / n,
  };
}

function check(key: string): LimitCheck {
  return {
    key,
    algorithm: 'gcra',
    limit: 1_000_000_000,
    burst: 1_000_000_000,
    windowMs: 1000,
    windowEndMs: 0,
    subWindows: 10,
    cost: 1,
    countRejected: false,
  };
}

function compileHandler(store: StateStore): Promise<PolicyHandler | null> {
  const shared = new Map<string, unknown>();
  const ctx = {
    apiName: 'bench',
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    events: { emit() {} },
    store,
    shared: {
      get<T>(k: string, make: () => T): T {
        if (!shared.has(k)) shared.set(k, make());
        return shared.get(k) as T;
      },
      onClose() {},
    },
  } as unknown as CompileContext;
  return Promise.resolve(rateLimitPolicy.compile({ mode: 'enforce', limits: NEVER_REJECT }, ctx));
}

function benchExchange(): Exchange {
  return {
    id: 'bench',
    req: { headers: {} } as IncomingMessage,
    res: {} as ServerResponse,
    startedAt: 0,
    clientIp: '203.0.113.9',
    scheme: 'http',
    host: 'bench',
    path: '/bench',
    rawQuery: '',
    route: { api: 'bench', operation: { id: 'getBench', method: 'GET', path: '/bench' } },
    upstreamHeaders: {},
    responseHeaders: {},
    reported: [],
  } as unknown as Exchange;
}

/** Measures and returns a Markdown table (also printed when run directly). */
export async function runLimitBench(): Promise<string> {
  const memory = createMemoryStore({ clock: systemClock });
  const prefix = `pcbench:${randomBytes(4).toString('hex')}:`;
  const redis = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  for (let i = 0; i < 100 && !redis.isReady(); i++) await new Promise((r) => setTimeout(r, 20));
  const rows: Row[] = [];
  const memCheck = [check('{b}:g')];
  rows.push(
    await measure('store.consume, memory', 1, () =>
      memory.consume({ nowMs: Date.now(), limits: memCheck, leaseId: '' }),
    ),
  );
  const memHandler = (await compileHandler(memory))!;
  rows.push(
    await measure('rateLimit.onRequest, memory', 1, () => {
      const ex = benchExchange();
      return memHandler.onRequest!(ex);
    }),
  );
  if (redis.isReady()) {
    const redisCheck = [check('{b}:g')];
    for (const c of [1, 32]) {
      rows.push(
        await measure(`store.consume, redis, ${c} in flight`, c, () =>
          redis.consume({ nowMs: Date.now(), limits: redisCheck, leaseId: '' }),
        ),
      );
    }
    const redisHandler = (await compileHandler(redis))!;
    rows.push(
      await measure('rateLimit.onRequest, redis, 32 in flight', 32, () =>
        redisHandler.onRequest!(benchExchange()),
      ),
    );
    const keys = await redis.client.keys(`${prefix}*`);
    if (keys.length > 0) await redis.client.del(...keys);
  }
  await redis.close();
  const base = rows[0].opsPerSec;
  const lines = [
    '| decision | ops/s | wall µs/op | CPU µs/op (this process) | ops/s × memory store |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en')} | ${(1e6 / r.opsPerSec).toFixed(2)} | ${r.cpuUsPerOp.toFixed(2)} | ${(r.opsPerSec / base).toFixed(3)} |`,
    ),
  ];
  if (!redis.isReady() && rows.length < 3)
    lines.push('', `Redis at ${REDIS_URL} unreachable: Redis rows left out.`);
  return lines.join('\n');
}

if (import.meta.main) process.stdout.write(`${await runLimitBench()}\n`);
