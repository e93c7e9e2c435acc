import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { problems } from '../../../src/core/problems.ts';
import {
  echoHandler,
  httpRequest,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';
import { freePort, PrivateRedis } from '../../kit/redis.ts';

/**
 * A gateway whose limits live in Redis waits, at start, for its connection: the first requests of a new
 * instance (a rolling deploy) get real decisions rather than the fail mode.
 */
const spec = openapi({ '/things': { get: op('things') } });
const config = (url: string) => ({
  state: { store: 'redis', redis: { url, keyPrefix: `startup-${process.pid}:` } },
  apis: [
    {
      name: 's',
      spec: './openapi.yaml',
      upstream: { url: upstream.url },
      policies: {
        rateLimit: {
          failMode: 'closed',
          limits: [{ name: 'all', algorithm: 'gcra', limit: 100, windowSeconds: 60, key: 'ip' }],
        },
      },
    },
  ],
});

let upstream: TestServer;
const cleanup: Array<() => Promise<unknown>> = [];

describe('start of a gateway on a Redis state store', () => {
  after(async () => {
    for (const f of cleanup.reverse()) await f();
    await upstream?.close();
  });

  test('waits for Redis to come up, then answers its first request from it', async () => {
    upstream = await startServer(echoHandler);
    const redis = new PrivateRedis(await freePort());
    cleanup.push(() => redis.stop());
    // Redis starts a moment after the gateway began to start.
    const late = new Promise((r) => setTimeout(r, 400)).then(() => redis.start());
    const gw: TestGateway = await startGateway({
      specs: { 'openapi.yaml': spec },
      config: config(redis.url),
    });
    cleanup.push(() => gw.close());
    await late;
    const res = await httpRequest(gw.url, { path: '/things' });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['ratelimit-policy'] !== undefined, true);
  });

  test('starts anyway when Redis stays down, and applies the fail mode', async () => {
    const gw = await startGateway({
      specs: { 'openapi.yaml': spec },
      config: config(`redis://127.0.0.1:${await freePort()}`),
    });
    cleanup.push(() => gw.close());
    const res = await httpRequest(gw.url, { path: '/things' });
    assert.equal(res.status, 503, res.body);
    assert.equal(JSON.parse(res.body).type, problems.temporaryReducedCapacity.type);
  });
});
