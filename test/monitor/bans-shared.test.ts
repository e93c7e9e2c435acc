import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../src/core/clock.ts';
import { problems } from '../../src/core/problems.ts';
import { createBanList } from '../../src/state/bans.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../harness.ts';
import { REDIS_URL } from '../kit/redis.ts';

const prefix = `portcullis-test-bans-${randomBytes(4).toString('hex')}:`;

describe('bans shared by two gateway instances through Redis', () => {
  let upstream: TestServer;
  let a: TestGateway;
  let b: TestGateway;
  const admin = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  const bans = createBanList({ store: admin, clock: systemClock });

  before(async () => {
    upstream = await startServer(echoHandler);
    const config = {
      state: { store: 'redis', redis: { url: REDIS_URL, keyPrefix: prefix } },
      apis: [
        {
          name: 'shop',
          spec: 'openapi.yaml',
          upstream: { url: upstream.url },
          // cacheMs 0: every request asks Redis, so the test needs no waiting.
          policies: { ban: { cacheMs: 0 } },
        },
      ],
    };
    const specs = { 'openapi.yaml': openapi({ '/items/{id}': { get: op('getItem') } }) };
    a = await startGateway({ specs, config });
    b = await startGateway({ specs, config });
  });

  after(async () => {
    await a.close();
    await b.close();
    await upstream.close();
    const keys = await admin.client.keys(`${prefix}*`);
    if (keys.length > 0) await admin.client.del(...keys);
    await admin.close();
  });

  async function status(
    gw: TestGateway,
  ): Promise<{ status: number; type?: string; retryAfter: string | null }> {
    const res = await fetch(`${gw.url}/items/1`);
    const problem = res.headers.get('content-type')?.includes('problem');
    const body = problem ? ((await res.json()) as { type: string }) : undefined;
    if (!problem) await res.text();
    return {
      status: res.status,
      type: body?.type,
      retryAfter: res.headers.get('retry-after'),
    };
  }

  test('a ban written by one client is enforced by both instances, and an unban lifts it on both', async () => {
    assert.equal((await status(a)).status, 200);
    assert.equal((await status(b)).status, 200);

    await bans.ban('ip', '127.0.0.1', { reason: 'test', source: 'manual', ttlSeconds: 120 });
    for (const gw of [a, b]) {
      const s = await status(gw);
      assert.equal(s.status, 403);
      assert.equal(s.type, problems.banned.type);
      assert.ok(Number(s.retryAfter) > 100 && Number(s.retryAfter) <= 120);
    }
    // The ban is visible from any instance's store client.
    assert.deepEqual(
      (await createBanList({ store: a.runtime.store, clock: systemClock }).list()).map((x) => x.value),
      ['127.0.0.1'],
    );

    assert.equal(
      await createBanList({ store: b.runtime.store, clock: systemClock }).unban('ip', '127.0.0.1'),
      true,
    );
    assert.equal((await status(a)).status, 200);
    assert.equal((await status(b)).status, 200);
  });
});
