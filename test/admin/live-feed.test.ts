import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createLiveFeed } from '../../src/admin/live-feed.ts';

async function serveFeed(feed: ReturnType<typeof createLiveFeed>) {
  const server = http.createServer((req, res) => {
    if (!feed.attach(req, res)) {
      res.writeHead(503);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

test('sends named events with JSON data to every attached client', async () => {
  const feed = createLiveFeed({ maxClients: 4, maxBufferedBytes: 1 << 20, heartbeatMs: 60_000 });
  const srv = await serveFeed(feed);
  const res = await fetch(srv.url);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  while (feed.clients() === 0) await new Promise((r) => setTimeout(r, 5));
  feed.publish('alert', { msg: 'line\nbreak <b>' });
  let text = '';
  while (!text.includes('event: alert')) text += new TextDecoder().decode((await reader.read()).value);
  assert.match(text, /^retry: 2000\n\n/);
  assert.match(text, /id: 1\nevent: alert\ndata: \{"msg":"line\\nbreak <b>"\}\n\n/);
  await reader.cancel();
  feed.close();
  await srv.close();
});

test('refuses clients beyond maxClients', async () => {
  const feed = createLiveFeed({ maxClients: 1, maxBufferedBytes: 1 << 20, heartbeatMs: 60_000 });
  const srv = await serveFeed(feed);
  const first = await fetch(srv.url);
  const second = await fetch(srv.url);
  assert.equal(first.status, 200);
  assert.equal(second.status, 503);
  await first.body?.cancel();
  feed.close();
  await srv.close();
});

test('drops a client that stops reading once its buffer passes the bound, and keeps serving the others', async () => {
  const feed = createLiveFeed({ maxClients: 4, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 });
  const srv = await serveFeed(feed);
  // A client that reads nothing after the headers: its socket buffers fill, then the server's.
  const stalled = await new Promise<http.IncomingMessage>((resolve) => http.get(srv.url, resolve));
  stalled.pause();
  const reader = (await fetch(srv.url)).body!.getReader();
  let readBytes = 0;
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      readBytes += value.length;
    }
  })();
  while (feed.clients() < 2) await new Promise((r) => setTimeout(r, 5));
  const payload = { blob: 'x'.repeat(16 * 1024) };
  let published = 0;
  try {
    // A few messages a millisecond: the reading client keeps up, the stalled one falls further behind.
    while (feed.dropped() === 0 && published < 4000) {
      for (let i = 0; i < 4; i++) feed.publish('security', payload);
      published += 4;
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(feed.dropped(), 1);
    assert.equal(feed.clients(), 1);
    // The stalled client's connection was cut: once it reads again, its stream ends early.
    const ended = new Promise<void>((r) => stalled.once('close', () => r()));
    stalled.on('error', () => {});
    stalled.resume();
    await ended;
    while (readBytes < published * 16 * 1024) await new Promise((r) => setTimeout(r, 5));
  } finally {
    stalled.destroy();
    await reader.cancel();
    await reading.catch(() => {});
    feed.close();
    await srv.close();
  }
});
