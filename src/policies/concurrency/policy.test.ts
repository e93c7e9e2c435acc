import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { context, exchange, operation } from '../../../test/kit/operation.ts';
import { createManualClock } from '../../core/clock.ts';
import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyHandler } from '../../core/policy.ts';
import { type Problem, problems } from '../../core/problems.ts';
import { createMemoryStore } from '../../state/memory-store.ts';
import { type ConcurrencyConfig, concurrencyPolicy } from './policy.ts';
import { createSemaphore } from './semaphore.ts';

const done = { status: 200, durationMs: 1, decision: 'allow' };

function ctxFor(opId = 'op') {
  const clock = createManualClock();
  return context(createMemoryStore({ clock }), clock, operation(opId));
}

async function compile(config: Omit<ConcurrencyConfig, 'mode'>, ctx: CompileContext) {
  return (await concurrencyPolicy.compile({ mode: 'enforce', ...config }, ctx)) as PolicyHandler;
}

describe('semaphore', () => {
  test('hands a released slot to the oldest waiter first', async () => {
    const s = createSemaphore({ maxInFlight: 1, maxQueued: 2, maxWaitMs: 5000 });
    assert.equal(s.acquire(), true);
    const order: string[] = [];
    const a = (s.acquire() as Promise<unknown>).then((r) => order.push(`a:${r}`));
    const b = (s.acquire() as Promise<unknown>).then((r) => order.push(`b:${r}`));
    assert.equal(s.acquire(), 'queue_full');
    s.release();
    s.release();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a:true', 'b:true']);
    assert.equal(s.inFlight, 1);
  });

  test('gives up on a waiter after maxWaitMs', async () => {
    const s = createSemaphore({ maxInFlight: 1, maxQueued: 1, maxWaitMs: 20 });
    s.acquire();
    assert.equal(await s.acquire(), 'queue_timeout');
    assert.equal(s.queued, 0);
  });
});

describe('concurrency policy', () => {
  test('answers 503 temporary-reduced-capacity with Retry-After when the cap and queue are full', async () => {
    const c = ctxFor();
    const h = await compile({ operation: { maxInFlight: 2, maxQueued: 0 }, retryAfterSeconds: 3 }, c.ctx);
    assert.equal(h.onRequest!(exchange()), undefined);
    assert.equal(h.onRequest!(exchange()), undefined);
    const p = h.onRequest!(exchange({ ip: '192.0.2.7' })) as Problem;
    assert.equal(p.problem, problems.temporaryReducedCapacity);
    assert.equal(p.headers?.['retry-after'], '3');
    assert.deepEqual(p.extensions, { 'violated-policies': ['concurrency.operation'] });
    // The denial event carries the request fields every policy's denial carries (one builder).
    const e = c.events[0];
    assert.equal(e['event.action'], 'concurrency-limit-exceeded');
    assert.equal(e['event.type'], 'denied');
    assert.equal(e['event.outcome'], 'failure');
    assert.equal(e['event.reason'], 'queue_full');
    assert.equal(e['rule.name'], 'concurrency');
    assert.equal(e['portcullis.concurrency.scope'], 'operation');
    assert.equal(e['url.path'], '/things/1');
    assert.equal(e['source.ip'], '192.0.2.7');
    assert.equal(e['portcullis.api'], 'things');
    assert.equal(e['portcullis.operation_id'], 'getThing');
  });

  test('queues a request until a slot is released by a completed exchange', async () => {
    const c = ctxFor();
    const h = await compile({ operation: { maxInFlight: 1, maxQueued: 1, maxWaitMs: 5000 } }, c.ctx);
    const first = exchange();
    assert.equal(h.onRequest!(first), undefined);
    const waiting = h.onRequest!(exchange()) as Promise<Problem | undefined>;
    assert.equal(typeof waiting.then, 'function');
    h.onComplete!(first, done);
    assert.equal(await waiting, undefined);
  });

  test('shares the upstream cap between the operations of one API and the global cap between APIs', async () => {
    const a = ctxFor('a');
    const b = ctxFor('b');
    // Both contexts of one snapshot share services.
    const sharedB = { ...b.ctx, shared: a.ctx.shared };
    const ha = await compile({ upstream: { maxInFlight: 1 } }, a.ctx);
    const hb = await compile({ upstream: { maxInFlight: 1 } }, sharedB);
    const ex: Exchange = exchange();
    assert.equal(ha.onRequest!(ex), undefined);
    assert.equal((hb.onRequest!(exchange()) as Problem).problem.status, 503);
    ha.onComplete!(ex, done);
    assert.equal(hb.onRequest!(exchange()), undefined);
  });

  test('releases the slots already taken when a later cap refuses', async () => {
    const c = ctxFor();
    const h = await compile({ global: { maxInFlight: 5 }, operation: { maxInFlight: 1 } }, c.ctx);
    const global = c.shared.get<{ inFlight: number }>('portcullis.concurrency.global', () => ({
      inFlight: -1,
    }));
    assert.equal(h.onRequest!(exchange()), undefined);
    assert.equal((h.onRequest!(exchange()) as Problem).problem.status, 503);
    assert.equal(global.inFlight, 1);
  });
});
