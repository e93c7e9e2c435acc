/**
 * Slow request bodies must not hold upstream connections (issue 14 item 4): a body streamed to the
 * upstream keeps a minimum rate, and one client streams only so many bodies at once. Real sockets that
 * trickle bytes; a real upstream that counts the requests it holds.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../src/core/problems.ts';
import { httpRequest, op, openapi, startProxy, type TestProxy } from '../harness.ts';
import { until } from '../kit/server.ts';

const spec = openapi({ '/upload': { post: op('upload') } });

/** Requests the upstream is holding (their bodies still arriving), and how many it saw end. */
let holding = 0;
let aborted = 0;
function upstream(req: IncomingMessage, res: ServerResponse) {
  holding++;
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
  });
  req.on('end', () => {
    holding--;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ size }));
  });
  req.on('aborted', () => {
    holding--;
    aborted++;
  });
}

/**
 * Opens a POST of `length` declared bytes from `localAddress` and sends `first` bytes, then nothing more.
 * Resolves with the socket and a promise of everything the gateway answers.
 */
function trickle(url: string, length: number, first: number, localAddress = '127.0.0.1') {
  const u = new URL(url);
  const socket = net.connect({ port: Number(u.port), host: u.hostname, localAddress });
  const answer = new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
    socket.on('error', () => {});
  });
  socket.write(
    `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n${'x'.repeat(first)}`,
  );
  return { socket, answer };
}

describe('slow request bodies', () => {
  let gw: TestProxy;
  before(async () => {
    gw = await startProxy({
      upstream,
      spec,
      api: { name: 'files' },
      config: {
        server: {
          bufferBodyBelowBytes: 0,
          minBodyBytesPerSecond: 1000,
          // A short grace, so the slow body is cut in well under a second (the default is 5 s).
          minBodyRateGraceMs: 300,
          streamedBodiesPerClient: 2,
        },
      },
    });
  });
  after(() => gw.close());

  test('a client streams at most streamedBodiesPerClient bodies at once; others still get through', async () => {
    // 50 000 bytes sent at once are 50 s of the minimum rate: these two stay held however short the grace.
    const a = trickle(gw.url, 100_000, 50_000);
    const b = trickle(gw.url, 100_000, 50_000);
    await until(() => holding === 2, 'two bodies held');
    const third = trickle(gw.url, 10, 10);
    const refused = await third.answer;
    assert.match(refused, /^HTTP\/1\.1 429 /);
    assert.match(refused, new RegExp(problems.quotaExceeded.type.replace(/[.#]/g, '\\$&')));
    // Another client address is not held back by the first one's bodies.
    const other = await httpRequest(gw.url, {
      method: 'POST',
      path: '/upload',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'y'.repeat(10),
      localAddress: '127.0.0.2',
    });
    assert.equal(other.status, 200);
    a.socket.destroy();
    b.socket.destroy();
    await until(() => holding === 0, 'no body held');
  });

  test('a body that falls below the minimum rate gets 408 and frees its upstream request', async () => {
    const before = aborted;
    const startedAt = performance.now();
    const slow = trickle(gw.url, 100_000, 100, '127.0.0.3');
    await until(() => holding === 1, 'one body held');
    const out = await slow.answer; // the gateway answers and closes once the grace (300 ms) and 100 bytes' worth (100 ms) have passed
    assert.match(out, /^HTTP\/1\.1 408 /);
    // The configured grace applies: not cut before it, and long before the default 5 s.
    const tookMs = performance.now() - startedAt;
    assert.ok(tookMs >= 300 && tookMs < 4000, `cut after ${Math.round(tookMs)} ms`);
    const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
    assert.equal(body.type, problems.requestTimeout.type);
    await until(() => holding === 0, 'no body held');
    assert.equal(aborted, before + 1, 'the upstream request was cut off');
    const rec = gw.access.find((r) => r['portcullis.decision'] === 'body_too_slow');
    assert.equal(rec?.['http.response.status_code'], 408);
    // The refusal is the client's doing: the upstream was not blamed.
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.doesNotMatch(metrics, /portcullis_upstream_errors_total\{[^}]*api="files"/);
  });

  test('a body that keeps the rate is forwarded whole', async () => {
    const res = await httpRequest(gw.url, {
      method: 'POST',
      path: '/upload',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'z'.repeat(200_000),
      localAddress: '127.0.0.4',
    });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).size, 200_000);
  });
});
