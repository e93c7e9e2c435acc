import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { op, openapi, startGateway, startServer, type TestGateway, type TestServer } from '../harness.ts';
import { until } from '../kit/server.ts';

/**
 * A TCP relay in front of the shared Redis at 127.0.0.1:6379 that can hold Redis's replies (a slow
 * network, for real): commands go through at once, replies wait while the gate is held.
 */
interface ReplyGate {
  readonly url: string;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

async function startReplyGate(): Promise<ReplyGate> {
  let held = false;
  const pending: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const redis = new Socket();
    sockets.add(client).add(redis);
    redis.connect(6379, '127.0.0.1');
    client.on('data', (chunk) => redis.write(chunk));
    redis.on('data', (chunk) => {
      if (held) pending.push(() => client.write(chunk));
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      redis.destroy();
    };
    client.on('close', end).on('error', end);
    redis.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    hold() {
      held = true;
    },
    release() {
      held = false;
      for (const write of pending.splice(0)) write();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sends one GET on a connection of its own and returns the socket, without waiting for an answer. */
function sendRaw(url: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = new Socket();
    s.on('error', () => {});
    s.connect(Number(port), hostname, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: api.test\r\n\r\n`);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/**
 * Issue 18's "Redis ÷ memory" stall: clients that left while the Redis limiter was deciding were still
 * forwarded once the decision came, and each such call relayed into a closed response, paused for a drain
 * that never comes, and kept its upstream connection for good. The bench's wrk closes 64 connections at
 * the end of every run, so the gateway lost connections run after run until its pool was empty and it
 * answered nothing at all. Here the pool has two connections and four clients leave mid-decision.
 */
describe('clients that leave while a Redis-backed limiter decides', () => {
  let gate: ReplyGate;
  let upstream: TestServer;
  let gw: TestGateway;
  let upstreamRequests = 0;
  const agent = new Agent({ connections: 4 });

  async function get(path: string) {
    const res = await request(gw.url + path, {
      dispatcher: agent,
      headers: { host: 'api.test' },
      // A wedged pool never answers: give up well before the test's own timeout.
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  before(async () => {
    gate = await startReplyGate();
    upstream = await startServer((req: IncomingMessage, res: ServerResponse) => {
      upstreamRequests++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' }).end('{"ok":true}');
    });
    gw = await startGateway({
      specs: { 'openapi.yaml': openapi({ '/limited': { get: op('limited') } }) },
      config: {
        state: {
          store: 'redis',
          // A long command timeout: the decisions held here must come from Redis, not from the fail mode.
          redis: {
            url: gate.url,
            keyPrefix: `left-${randomBytes(4).toString('hex')}:`,
            commandTimeoutMs: 10_000,
          },
        },
        apis: [
          {
            name: 'left',
            spec: './openapi.yaml',
            upstream: { url: upstream.url, connections: 2 },
            policies: {
              rateLimit: {
                limits: [
                  { name: 'per-ip', algorithm: 'gcra', limit: 1_000_000, windowSeconds: 1, key: 'ip' },
                ],
              },
            },
          },
        ],
      },
    });
    assert.equal((await get('/limited')).status, 200);
  });

  after(async () => {
    gate?.release();
    await agent.close();
    await gw?.close();
    await upstream?.close();
    await gate?.close();
  });

  test('are not forwarded once the decision comes, and the upstream pool keeps serving', async () => {
    const forwardedBefore = upstreamRequests;
    const recordsBefore = gw.access.length;
    gate.hold();
    const sockets = await Promise.all(Array.from({ length: 4 }, () => sendRaw(gw.url, '/limited')));
    // All four are in the gateway, waiting for Redis's answer.
    await until(() => gw.runtime.gateway.inFlight() === 4, 'four requests waiting for the limiter');
    for (const s of sockets) s.destroy();
    // The gateway saw each client leave (one access record each, 499).
    await until(() => gw.access.length === recordsBefore + 4, 'the four access records');
    assert.deepEqual(
      gw.access.slice(recordsBefore).map((r) => r['http.response.status_code']),
      [499, 499, 499, 499],
    );

    gate.release();
    // A client that stays is decided after the four (one Redis connection answers in order) and must be
    // answered: before the fix, the four abandoned calls held both upstream connections and it waited for ever.
    const late = await get('/limited');
    assert.equal(late.status, 200);
    assert.equal(late.body, '{"ok":true}');
    // Only the client that stayed reached the upstream.
    assert.equal(upstreamRequests, forwardedBefore + 1);
    const more = await Promise.all(Array.from({ length: 6 }, () => get('/limited')));
    assert.deepEqual(
      more.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(upstreamRequests, forwardedBefore + 7);
    assert.equal(gw.runtime.gateway.inFlight(), 0);
  });
});
