import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { context, exchange, operation } from '../../../test/kit/operation.ts';
import { parseItemList } from '../../../test/kit/structured-fields.ts';
import { createManualClock } from '../../core/clock.ts';
import type { Exchange } from '../../core/exchange.ts';
import { PolicyConfigError, type PolicyHandler } from '../../core/policy.ts';
import { type Problem, problems } from '../../core/problems.ts';
import { createMemoryStore } from '../../state/memory-store.ts';
import type { StateStore } from '../../state/store.ts';
import { groupIp } from './keys.ts';
import { ipRateLimitPolicy, rateLimitPolicy } from './policy.ts';
import type { RateLimitConfig } from './schema.ts';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

async function compile(
  config: Omit<RateLimitConfig, 'mode'>,
  opts: { store?: StateStore; policy?: typeof rateLimitPolicy } = {},
) {
  const clock = createManualClock(T0);
  const store = opts.store ?? createMemoryStore({ clock });
  const c = context(store, clock);
  const handler = (await (opts.policy ?? rateLimitPolicy).compile(
    { mode: 'enforce', ...config },
    c.ctx,
  )) as PolicyHandler;
  return { handler, clock, events: c.events, store, shared: c.shared };
}

async function call(handler: PolicyHandler, ex: Exchange = exchange()): Promise<Problem | undefined> {
  return (await handler.onRequest!(ex)) ?? undefined;
}

async function countAdmitted(handler: PolicyHandler, n: number, make: () => Exchange = () => exchange()) {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await call(handler, make())) === undefined) ok++;
  return ok;
}

describe('rateLimit config', () => {
  test('rejects a cost that could never pass with the path of the cost', async () => {
    await assert.rejects(
      compile({ limits: [{ name: 'a', algorithm: 'gcra', limit: 10, burst: 2, cost: 3 }] }),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'limits[0].cost',
    );
  });

  test('rejects two limits with the same name', async () => {
    await assert.rejects(
      compile({
        limits: [
          { name: 'a', algorithm: 'gcra', limit: 10 },
          { name: 'a', algorithm: 'fixed-window', limit: 10 },
        ],
      }),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'limits[1].name',
    );
  });

  test('ipRateLimit refuses keys that are only known after authentication', async () => {
    await assert.rejects(
      compile(
        { limits: [{ name: 'a', algorithm: 'gcra', limit: 10, key: ['ip', 'consumer'] }] },
        { policy: ipRateLimitPolicy },
      ),
      (e: unknown) => e instanceof PolicyConfigError && e.path === 'limits[0].key[1]',
    );
    assert.equal(ipRateLimitPolicy.stage, 'ban');
    assert.equal(rateLimitPolicy.stage, 'limit');
  });

  test('compiles to nothing when no limit is configured', async () => {
    const clock = createManualClock(T0);
    const c = context(createMemoryStore({ clock }), clock);
    assert.equal(await rateLimitPolicy.compile({ mode: 'enforce', limits: [] }, c.ctx), null);
  });

  test('reads limits from the x-portcullis-rate-limit extension of the operation, else of the document', () => {
    const own = { limits: [{ name: 'op', algorithm: 'gcra', limit: 5 }] };
    const root = { limits: [{ name: 'root', algorithm: 'gcra', limit: 9 }] };
    const op = operation('x', { 'x-portcullis-rate-limit': own });
    const c = context(createMemoryStore({ clock: createManualClock() }), createManualClock(), op);
    assert.deepEqual(rateLimitPolicy.fromSpec!(op, c.ctx.spec), own);
    const bare = operation('y');
    const doc = { ...c.ctx.spec, doc: { openapi: '3.1.0', 'x-portcullis-rate-limit': root } };
    assert.deepEqual(rateLimitPolicy.fromSpec!(bare, doc as typeof c.ctx.spec), root);
  });
});

describe('rateLimit decisions (memory store)', () => {
  test('admits exactly the GCRA burst, then answers 429 quota-exceeded naming the violated limit', async () => {
    const { handler } = await compile({
      limits: [{ name: 'per-ip', algorithm: 'gcra', limit: 5, windowSeconds: 10 }],
    });
    assert.equal(await countAdmitted(handler, 5), 5);
    const p = await call(handler);
    assert.equal(p?.problem, problems.quotaExceeded);
    assert.deepEqual(p?.extensions, { 'violated-policies': ['per-ip'] });
    assert.equal(p?.headers?.['retry-after'], '2');
  });

  test('sends RateLimit-Policy and RateLimit that parse as structured fields, with Retry-After not before t', async () => {
    const { handler } = await compile({
      limits: [
        { name: 'burst', algorithm: 'gcra', limit: 10, windowSeconds: 60, burst: 2 },
        { name: 'daily', algorithm: 'quota', limit: 1000, period: 'day' },
        { name: 'monthly', algorithm: 'quota', limit: 5000, period: 'month' },
        { name: 'inflight', algorithm: 'concurrency', limit: 4 },
        { name: 'minute', algorithm: 'sliding-window', limit: 30, windowSeconds: 60 },
      ],
    });
    const seen: Exchange[] = [];
    for (let i = 0; i < 3; i++) {
      const ex = exchange();
      seen.push(ex);
      const p = await call(handler, ex);
      if (i < 2) assert.equal(p, undefined);
      else {
        assert.equal(p?.problem.status, 429);
        const rl = parseItemList(p!.headers!.ratelimit as string);
        for (const item of rl) {
          const t = item.params.get('t') as number | undefined;
          assert.ok(
            t === undefined || Number(p!.headers!['retry-after']) >= t,
            'Retry-After earlier than a t',
          );
        }
        assert.equal(rl.find((x) => x.value === 'burst')!.params.get('t'), 6);
        assert.match(String(p!.headers!['retry-after']), /^[0-9]+$/);
      }
    }
    for (const ex of seen) {
      const policy = parseItemList(ex.responseHeaders['ratelimit-policy']);
      assert.deepEqual(
        policy.map((p) => [p.value, p.params.get('q'), p.params.get('w')]),
        [
          ['burst', 10, 60],
          ['daily', 1000, 86400],
          ['monthly', 5000, 31 * 86400],
          ['inflight', 4, undefined],
          ['minute', 30, 60],
        ],
      );
      assert.equal(policy[0].params.get('portcullis-burst'), 2);
      assert.equal(policy[3].params.get('qu'), 'concurrent-requests');
      const rl = parseItemList(ex.responseHeaders.ratelimit);
      assert.equal(rl.length, 5);
      for (const item of rl) {
        assert.equal(typeof item.params.get('r'), 'number');
        assert.ok((item.params.get('pk') as Uint8Array).length === 8, 'pk is a short hash, never the key');
      }
    }
    assert.equal(parseItemList(seen[0].responseHeaders.ratelimit)[0].params.get('r'), 1);
    assert.equal(seen[0].responseHeaders['x-ratelimit-limit'], undefined);
  });

  test('sends t on a 2xx of a GCRA limit as the seconds until one more request is available', async () => {
    const { handler, clock } = await compile({
      limits: [{ name: 'slow', algorithm: 'gcra', limit: 10, windowSeconds: 100 }],
    });
    const item = (ex: Exchange) => parseItemList(ex.responseHeaders.ratelimit)[0].params;
    let ex = exchange();
    for (let i = 0; i < 3; i++) {
      ex = exchange();
      assert.equal(await call(handler, ex), undefined);
    }
    // One unit per 10 s: after 3 at once, 7 remain and the 8th comes in 10 s (the bucket is full in 30 s).
    assert.equal(item(ex).get('r'), 7);
    assert.equal(item(ex).get('t'), 10);
    clock.advance(4000);
    ex = exchange();
    assert.equal(await call(handler, ex), undefined);
    // 6.4 units of credit after this request: the 7th is earned in 6 s.
    assert.equal(item(ex).get('r'), 6);
    assert.equal(item(ex).get('t'), 6);
  });

  test('sends t on a 2xx of a sliding window as the seconds until its oldest counted request leaves', async () => {
    const { handler, clock } = await compile({
      limits: [{ name: 'minute', algorithm: 'sliding-window', limit: 30, windowSeconds: 60, subWindows: 6 }],
    });
    assert.equal(await call(handler), undefined);
    clock.advance(25_000);
    const ex = exchange();
    assert.equal(await call(handler, ex), undefined);
    const rl = parseItemList(ex.responseHeaders.ratelimit)[0].params;
    assert.equal(rl.get('r'), 28);
    // Sub-windows of 10 s: the first request counts until 70 s, the second until 90 s; 25 s have passed.
    assert.equal(rl.get('t'), 45);
  });

  test('sends X-RateLimit-* for the tightest limit only when legacyHeaders is on', async () => {
    const { handler } = await compile({
      legacyHeaders: true,
      limits: [
        { name: 'a', algorithm: 'fixed-window', limit: 100, windowSeconds: 60 },
        { name: 'b', algorithm: 'fixed-window', limit: 3, windowSeconds: 10 },
      ],
    });
    const ex = exchange();
    await call(handler, ex);
    assert.equal(ex.responseHeaders['x-ratelimit-limit'], '3');
    assert.equal(ex.responseHeaders['x-ratelimit-remaining'], '2');
    assert.equal(ex.responseHeaders['x-ratelimit-reset'], '10');
  });

  test('a request rejected by one limit does not use the quota of the others', async () => {
    const { handler, clock } = await compile({
      limits: [
        { name: 'second', algorithm: 'gcra', limit: 1, windowSeconds: 1 },
        { name: 'daily', algorithm: 'quota', limit: 10 },
      ],
    });
    assert.equal(await countAdmitted(handler, 50), 1);
    clock.advance(1000);
    const ex = exchange();
    assert.equal(await call(handler, ex), undefined);
    const daily = parseItemList(ex.responseHeaders.ratelimit).find((i) => i.value === 'daily')!;
    assert.equal(daily.params.get('r'), 8);
  });

  test('a quota resets at UTC midnight', async () => {
    const { handler, clock } = await compile({ limits: [{ name: 'daily', algorithm: 'quota', limit: 3 }] });
    clock.set(Date.UTC(2026, 0, 1, 23, 59, 0));
    assert.equal(await countAdmitted(handler, 5), 3);
    const p = await call(handler);
    assert.equal(p?.headers?.['retry-after'], '60');
    clock.set(Date.UTC(2026, 0, 2, 0, 0, 0));
    assert.equal(await countAdmitted(handler, 5), 3);
  });

  test('keys by consumer, falling back to the client IP for anonymous calls', async () => {
    const { handler } = await compile({
      limits: [{ name: 'c', algorithm: 'fixed-window', limit: 2, key: 'consumer', fallbackKey: 'ip' }],
    });
    const alice = () => exchange({ principal: { consumer: 'alice' }, ip: '198.51.100.1' });
    const bob = () => exchange({ principal: { consumer: 'bob' }, ip: '198.51.100.1' });
    const anon = () => exchange({ ip: '198.51.100.1' });
    assert.equal(await countAdmitted(handler, 4, alice), 2);
    assert.equal(await countAdmitted(handler, 4, bob), 2);
    assert.equal(await countAdmitted(handler, 4, anon), 2);
  });

  test('gives anonymous callers (an anonymous principal) a bucket per address when keyed by subject', async () => {
    const { handler } = await compile({
      limits: [{ name: 's', algorithm: 'fixed-window', limit: 2, key: 'subject', fallbackKey: 'ip' }],
    });
    const anonymousFrom = (ip: string) => () =>
      exchange({ principal: { subject: '', method: 'anonymous' }, ip });
    assert.equal(await countAdmitted(handler, 4, anonymousFrom('198.51.100.1')), 2);
    // Another address is not starved by the first one.
    assert.equal(await countAdmitted(handler, 4, anonymousFrom('198.51.100.2')), 2);
  });

  test('keys by a composite of a token claim and a header', async () => {
    const { handler } = await compile({
      limits: [{ name: 'c', algorithm: 'fixed-window', limit: 1, key: ['claim:tenant', 'header:x-app'] }],
    });
    const mk = (tenant: string, app: string) => () =>
      exchange({ principal: { claims: { tenant } }, headers: { 'x-app': app } });
    assert.equal(await countAdmitted(handler, 2, mk('t1', 'a')), 1);
    assert.equal(await countAdmitted(handler, 2, mk('t1', 'b')), 1);
    assert.equal(await countAdmitted(handler, 2, mk('t2', 'a')), 1);
  });

  test('groups IPv6 clients by the configured prefix and IPv4-mapped addresses as IPv4', async () => {
    assert.equal(groupIp('2001:db8:1:2:aaaa::1', 32, 64), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(groupIp('2001:db8:1:2:ffff::9', 32, 48), '2001:db8:1:0:0:0:0:0/48');
    assert.equal(groupIp('::ffff:192.0.2.9', 24, 64), '192.0.2.0/24');
    assert.equal(groupIp('192.0.2.9', 32, 64), '192.0.2.9');
    const { handler } = await compile({ limits: [{ name: 'ip', algorithm: 'fixed-window', limit: 2 }] });
    const v6 = (ip: string) => () => exchange({ ip });
    assert.equal(await countAdmitted(handler, 1, v6('2001:db8::1')), 1);
    assert.equal(await countAdmitted(handler, 3, v6('2001:db8::ffff:2')), 1);
    assert.equal(await countAdmitted(handler, 3, v6('2001:db8:0:1::1')), 2);
  });

  test('a rejection emits one event with the hashed key and never the raw key', async () => {
    const { handler, events } = await compile({
      limits: [{ name: 'c', algorithm: 'gcra', limit: 1, key: 'consumer' }],
    });
    const mk = () => exchange({ principal: { consumer: 'alice-secret-consumer' } });
    await countAdmitted(handler, 3, mk);
    assert.equal(events.length, 2);
    const e = events[0];
    assert.equal(e['event.action'], 'rate-limit-exceeded');
    assert.equal(e['rule.name'], 'rateLimit');
    assert.deepEqual(e['portcullis.ratelimit.limits'], ['c']);
    const partition = `consumer=${'alice-secret-consumer'.length}:alice-secret-consumer|`;
    assert.deepEqual(e['portcullis.ratelimit.key_hashes'], [
      createHash('sha256').update(partition).digest('hex'),
    ]);
    assert.ok(!JSON.stringify(e).includes('alice-secret-consumer'));
  });

  test('the rejection event carries the request fields every denial carries, at the decision time', async () => {
    const { handler, events, clock } = await compile({
      limits: [{ name: 'ip', algorithm: 'fixed-window', limit: 1 }],
    });
    const mk = () => {
      const ex = exchange({ ip: '198.51.100.9', principal: { subject: 'alice' } });
      (ex.req as { method?: string }).method = 'GET';
      return ex;
    };
    clock.advance(1500);
    await countAdmitted(handler, 1, mk);
    const refused = mk();
    assert.equal((await call(handler, refused))?.reason, 'quota_exceeded');
    assert.equal(events.length, 1);
    const { 'portcullis.ratelimit.key_hashes': hashes, ...rest } = events[0];
    assert.ok(Array.isArray(hashes) && hashes.length === 1 && /^[0-9a-f]{64}$/.test(hashes[0]));
    assert.deepEqual(rest, {
      '@timestamp': new Date(T0 + 1500).toISOString(),
      'event.kind': 'event',
      'event.category': 'api',
      'event.type': 'denied',
      'event.action': 'rate-limit-exceeded',
      'event.outcome': 'failure',
      'event.reason': 'quota_exceeded',
      'http.request.id': refused.id,
      'http.request.method': 'GET',
      'url.path': '/things/1',
      'http.route': '/things/{id}',
      'source.ip': '198.51.100.9',
      'client.address': '198.51.100.9',
      'portcullis.api': 'things',
      'portcullis.operation_id': 'getThing',
      'rule.name': 'rateLimit',
      'portcullis.mode': 'enforce',
      'user.id': 'alice',
      'portcullis.ratelimit.limits': ['ip'],
    });
  });

  test('applies an operation cost to every limit without its own cost', async () => {
    const { handler } = await compile({
      cost: 5,
      limits: [{ name: 'a', algorithm: 'fixed-window', limit: 12 }],
    });
    assert.equal(await countAdmitted(handler, 5), 2);
  });

  test('holds a concurrency slot until the exchange completes', async () => {
    const { handler } = await compile({ limits: [{ name: 'inflight', algorithm: 'concurrency', limit: 2 }] });
    const a = exchange();
    const b = exchange();
    assert.equal(await call(handler, a), undefined);
    assert.equal(await call(handler, b), undefined);
    assert.equal((await call(handler))?.problem.status, 429);
    handler.onComplete!(a, { status: 200, durationMs: 1, decision: 'allow' });
    assert.equal(await call(handler), undefined);
  });
});

describe('rateLimit headers of two policies on one request', () => {
  test('RateLimit-Policy and RateLimit list the per-IP limit, then the per-user one, on every request', async () => {
    const ip = await compile(
      { limits: [{ name: 'per-ip', algorithm: 'gcra', limit: 100, windowSeconds: 1, key: 'ip' }] },
      { policy: ipRateLimitPolicy },
    );
    const user = await compile({
      limits: [{ name: 'per-user', algorithm: 'gcra', limit: 50, windowSeconds: 60, key: 'subject' }],
    });
    // Alternating clients, so that a value kept from the request before would show.
    for (let i = 0; i < 6; i++) {
      const ex = exchange({ ip: `10.0.0.${i % 2}`, principal: { subject: `u${i % 3}` } });
      assert.equal(await call(ip.handler, ex), undefined);
      assert.equal(await call(user.handler, ex), undefined);
      const policy = parseItemList(ex.responseHeaders['ratelimit-policy']);
      assert.deepEqual(
        policy.map((p) => [p.value, p.params.get('q'), p.params.get('w')]),
        [
          ['per-ip', 100, 1],
          ['per-user', 50, 60],
        ],
      );
      const rl = parseItemList(ex.responseHeaders.ratelimit);
      assert.deepEqual(
        rl.map((x) => x.value),
        ['per-ip', 'per-user'],
      );
      assert.equal(rl[0].params.get('r'), 99 - Math.floor(i / 2));
      assert.equal(rl[1].params.get('r'), 49 - Math.floor(i / 3));
    }
  });
});

describe('rateLimit keys in the store', () => {
  async function keysOf(limits: NonNullable<RateLimitConfig['limits']>): Promise<string[]> {
    const clock = createManualClock(T0);
    const memory = createMemoryStore({ clock });
    const seen: string[] = [];
    const spy: StateStore = {
      ...memory,
      consume(req) {
        seen.push(...req.limits.map((l) => l.key));
        return memory.consume(req);
      },
    };
    const { handler } = await compile({ limits }, { store: spy });
    await call(handler, exchange({ principal: { consumer: 'alice' } }));
    return seen;
  }
  const tag = (k: string) => k.slice(k.indexOf('{'), k.indexOf('}') + 1);

  test('one decision uses a single Redis Cluster hash tag, the key hash when all limits share the key', async () => {
    const same = await keysOf([
      { name: 'a', algorithm: 'gcra', limit: 5, key: 'consumer' },
      { name: 'b', algorithm: 'quota', limit: 5, key: 'consumer' },
    ]);
    assert.equal(new Set(same.map(tag)).size, 1);
    // The first 128 bits of the partition's SHA-256 (`consumer=5:alice|`), base64url.
    const digest = createHash('sha256')
      .update('consumer=5:alice|')
      .digest()
      .subarray(0, 16)
      .toString('base64url');
    assert.equal(tag(same[0]), `{things:${digest}}`);
    const mixed = await keysOf([
      { name: 'a', algorithm: 'gcra', limit: 5, key: 'consumer' },
      { name: 'b', algorithm: 'gcra', limit: 5, key: 'ip' },
    ]);
    assert.deepEqual(mixed.map(tag), ['{things}', '{things}']);
  });

  test('never puts the raw key into a store key', async () => {
    const keys = await keysOf([{ name: 'a', algorithm: 'gcra', limit: 5, key: ['consumer', 'ip'] }]);
    assert.ok(
      keys.every((k) => !k.includes('alice') && !k.includes('203.0.113.7')),
      keys.join(),
    );
  });
});

describe('rateLimit when the memory limiter is full', () => {
  const limits = [{ name: 'ip', algorithm: 'gcra' as const, limit: 5 }];
  const full = () => createMemoryStore({ clock: createManualClock(T0), maxLimiterKeys: 2 });

  test('failMode open lets a new key through and counts it', async () => {
    const { handler } = await compile({ limits, failMode: 'open' }, { store: full() });
    await call(handler, exchange({ ip: '192.0.2.1' }));
    await call(handler, exchange({ ip: '192.0.2.2' }));
    assert.equal(await call(handler, exchange({ ip: '192.0.2.3' })), undefined);
  });

  test('failMode closed answers 503 temporary-reduced-capacity with Retry-After', async () => {
    const { handler } = await compile({ limits, failMode: 'closed' }, { store: full() });
    await call(handler, exchange({ ip: '192.0.2.1' }));
    await call(handler, exchange({ ip: '192.0.2.2' }));
    const p = await call(handler, exchange({ ip: '192.0.2.3' }));
    assert.equal(p?.problem, problems.temporaryReducedCapacity);
    assert.equal(p?.headers?.['retry-after'], '1');
    // Existing keys are still limited exactly.
    assert.equal(await call(handler, exchange({ ip: '192.0.2.1' })), undefined);
  });
});
