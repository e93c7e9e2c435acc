import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { createMetrics, type MetricsRegistry } from '../../src/core/metrics.ts';
import { problems } from '../../src/core/problems.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../harness.ts';
import { freePort, PrivateRedis, watchCommands } from '../kit/redis.ts';
import { until } from '../kit/server.ts';
import { runLoad } from '../policies/rate-limit/load.ts';

/**
 * A gateway on its own redis-server, which the test freezes with SIGSTOP (the connection stays open, nothing
 * is answered) and thaws with SIGCONT. Every request asks the store twice: the ban check (`cacheMs: 0`, so
 * no local cache answers) and the rate limiter.
 */
const FAILURE_THRESHOLD = 3;
const limit = (failMode: 'open' | 'closed') => ({
  policies: {
    rateLimit: {
      failMode,
      limits: [{ name: 'per-ip', algorithm: 'gcra', limit: 100_000, windowSeconds: 60 }],
    },
  },
});

/** Commands that carry a decision or a lookup (all but the probe's PING). */
const dataCommands = (log: { commands: ReadonlyArray<{ name: string }> }) =>
  log.commands.filter((c) => c.name !== 'ping');

describe('a gateway whose Redis stops answering (SIGSTOP)', () => {
  let redis: PrivateRedis;
  let upstream: TestServer;
  let gw: TestGateway;
  let metrics: MetricsRegistry;
  const logLines: Array<Record<string, unknown>> = [];
  const agent = new Agent({ connections: 64 });

  async function get(path: string) {
    const res = await request(gw.url + path, { dispatcher: agent });
    return { status: res.statusCode, body: await res.body.text() };
  }
  const actions = (action: string) => gw.events.filter((e) => e['event.action'] === action);
  const warnings = () => logLines.filter((l) => (l.level as number) >= 40);
  const metric = (line: RegExp) => Number(line.exec(metrics.render())?.[1] ?? Number.NaN);

  before(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    upstream = await startServer(echoHandler);
    metrics = createMetrics();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') logLines.push(JSON.parse(line));
        done();
      },
    });
    gw = await startGateway({
      specs: { 'openapi.yaml': openapi({ '/open': { get: op('open') }, '/closed': { get: op('closed') } }) },
      config: {
        state: {
          store: 'redis',
          redis: {
            url: redis.url,
            keyPrefix: 'hung:',
            commandTimeoutMs: 200,
            failureThreshold: FAILURE_THRESHOLD,
            probeIntervalMs: 100,
          },
        },
        apis: [
          {
            name: 'h',
            spec: './openapi.yaml',
            upstream: { url: upstream.url },
            policies: { ban: { cacheMs: 0 } },
            operations: { open: limit('open'), closed: limit('closed') },
          },
        ],
      },
      runtime: { logger: pino({ level: 'info' }, sink), metrics },
    });
    assert.equal((await get('/open')).status, 200);
    assert.equal((await get('/closed')).status, 200);
  });

  after(async () => {
    redis?.resume();
    await gw?.close();
    await upstream?.close();
    await redis?.stop();
    await agent.close();
  });

  test('after the failure threshold, requests are decided by their fail modes without a command to Redis, with one warning and one event, until the probe sees Redis again', async (t) => {
    const sent = await watchCommands(redis.port);
    t.after(() => sent.stop());
    const warningsBefore = warnings().length;
    redis.pause();

    // One request at a time until the outage is declared: each asks Redis (ban check, then the limiter)
    // and waits out the command timeout. The threshold is reached on the second request's ban check.
    let waited = 0;
    while (actions('state-store-unavailable').length === 0) {
      assert.ok(++waited <= FAILURE_THRESHOLD, 'the outage was not declared at the threshold');
      assert.equal((await get('/open')).status, 200);
    }
    assert.equal(waited, 2);
    const timeoutsAtOutage = metric(/^portcullis_state_store_errors_total\{reason="timeout"\} (\d+)/m);
    assert.equal(timeoutsAtOutage, FAILURE_THRESHOLD);

    // Now every request is answered by its fail mode: open lets through (ban: not banned; limiter: the
    // local fallback), closed answers 503. None of them sends a command or waits the command timeout.
    const started = Date.now();
    const answers = await Promise.all([
      ...Array.from({ length: 60 }, () => get('/open')),
      ...Array.from({ length: 20 }, () => get('/closed')),
    ]);
    const tookMs = Date.now() - started;
    assert.deepEqual(
      answers.map((a) => a.status),
      [...Array(60).fill(200), ...Array(20).fill(503)],
    );
    assert.equal(JSON.parse(answers[79].body).type, problems.temporaryReducedCapacity.type);
    assert.equal(
      metric(/^portcullis_state_store_errors_total\{reason="timeout"\} (\d+)/m),
      timeoutsAtOutage,
      'no call waited for Redis after the outage was declared',
    );
    // Each request's ban check was refused at once (the limiters, degraded, wait for their own retry time
    // before they ask the store again, and are refused at once too).
    assert.ok(metric(/^portcullis_state_store_errors_total\{reason="outage"\} (\d+)/m) >= 80);
    assert.equal(metric(/^portcullis_state_store_available (\d+)/m), 0);
    assert.equal(metric(/^portcullis_state_store_unavailable_total\{reason="timeout"\} (\d+)/m), 1);

    // A short closed-loop load during the outage, for the record (not asserted).
    const load = await runLoad({ urls: [gw.url], path: '/open', clients: 20, durationMs: 1000 });
    const served = [...load.byStatus.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`80 requests decided in ${tookMs} ms; ${served} requests/s with Redis frozen (20 clients)`);
    assert.deepEqual([...load.byStatus.keys()], [200]);

    // One warning for the whole outage, naming the store operation that crossed the threshold (the ban
    // check's GET), no stack, no route of its own.
    const during = warnings().slice(warningsBefore);
    assert.equal(during.length, 1, JSON.stringify(during));
    assert.equal(during[0].operation, 'get');
    assert.equal(during[0].keyspace, 'ban');
    assert.equal(during[0].reason, 'timeout');
    assert.equal(during[0].err, undefined);
    assert.equal(during[0].operationId, undefined);
    const [down] = actions('state-store-unavailable');
    assert.equal(down['event.reason'], 'timeout');
    assert.equal(down['portcullis.state_store.operation'], 'get');
    assert.equal(down['portcullis.state_store.failures'], FAILURE_THRESHOLD);

    // Thawed: the background probe sees Redis again; one event and one line for the recovery.
    redis.resume();
    await until(() => actions('state-store-recovered').length === 1, 'the probe to see Redis again');
    assert.equal(actions('state-store-recovered')[0]['event.reason'], 'probe');
    assert.equal(metric(/^portcullis_state_store_available (\d+)/m), 1);
    const recoveredLines = warnings()
      .slice(warningsBefore)
      .filter((l) => String(l.msg).startsWith('state store available'));
    assert.equal(recoveredLines.length, 1);

    // Everything Redis was sent during the outage: the commands that timed out, then probes only. The
    // probe that ended it was sent after them on the same connection, so the log is complete once it shows.
    await until(() => sent.commands.some((c) => c.name === 'ping'), 'the probe in the command log');
    assert.deepEqual(
      dataCommands(sent).map((c) => c.name),
      ['get', 'evalsha', 'get'],
    );
    const sentDuringOutage = dataCommands(sent).length;

    // Decisions go to Redis again (the closed limiter's next retry asks it and answers 200).
    let closedStatus = 0;
    for (let i = 0; i < 40 && closedStatus !== 200; i++) {
      closedStatus = (await get('/closed')).status;
      if (closedStatus !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(closedStatus, 200);
    assert.ok(dataCommands(sent).length > sentDuringOutage);
  });

  test('a second freeze is a second outage: one more warning, one more event of each kind', async () => {
    const warningsBefore = warnings().length;
    redis.pause();
    for (let i = 0; i < FAILURE_THRESHOLD && actions('state-store-unavailable').length < 2; i++)
      assert.equal((await get('/open')).status, 200);
    assert.equal(actions('state-store-unavailable').length, 2);
    await Promise.all(Array.from({ length: 40 }, () => get('/open')));
    redis.resume();
    await until(() => actions('state-store-recovered').length === 2, 'the second recovery');
    const lines = warnings().slice(warningsBefore);
    assert.deepEqual(
      lines.map((l) => String(l.msg).split(';')[0]),
      ['state store unavailable', 'state store available again'],
    );
    assert.equal(metric(/^portcullis_state_store_unavailable_total\{reason="timeout"\} (\d+)/m), 2);
  });
});
