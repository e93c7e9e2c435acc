import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpRequest, op, openapi, startProxy, type TestProxy } from '../harness.ts';

/**
 * A client that goes away at any point of the exchange must give its upstream connection back: after more
 * departures than the pool has connections, the next request is still answered. The upstream drips its
 * answer (headers and a first chunk, then nothing until the gateway hangs up), so the departure lands while
 * the gateway relays (`/drip`) or collects (`/filtered`, which protectResponse reads whole) the body.
 */
const spec = openapi({
  '/drip': { get: op('drip') },
  '/filtered': { get: op('filtered') },
  '/quiet': { get: op('quiet') },
  '/ok': { get: op('ok') },
});

const POOL = 2;
const DEPARTURES = POOL * 3;

describe('a client that leaves mid-response', () => {
  let gw: TestProxy;
  const cutOff: string[] = [];

  before(async () => {
    gw = await startProxy({
      spec,
      api: {
        name: 'drips',
        upstream: { connections: POOL, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 },
        operations: { filtered: { policies: { protectResponse: { mode: 'enforce' } } } },
      },
      upstream: (req, res) => {
        const path = req.url ?? '';
        if (path === '/ok') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"ok":true}');
          return;
        }
        res.on('close', () => {
          if (!res.writableFinished) cutOff.push(path);
        });
        if (path === '/quiet') return; // no headers at all until the gateway hangs up
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"data":"${'x'.repeat(2048)}`);
      },
    });
  });

  after(() => gw.close());

  /** Opens a request on a connection of its own and destroys it once `when` says so. */
  function leave(path: string, when: 'headers' | 'sent'): Promise<void> {
    const u = new URL(gw.url);
    return new Promise((resolve) => {
      const req = http.request({ host: u.hostname, port: u.port, path, agent: false });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      if (when === 'headers') req.on('response', () => req.destroy());
      else setTimeout(() => req.destroy(), 150);
      req.end();
    });
  }

  async function stillAnswers(): Promise<void> {
    const res = await httpRequest(gw.url, { path: '/ok' });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ok: true });
  }

  async function cutOffCount(path: string, expected: number): Promise<number> {
    const count = () => cutOff.filter((p) => p === path).length;
    for (let i = 0; i < 100 && count() < expected; i++) await sleep(20);
    return count();
  }

  test('while the body is relayed: every upstream call is cut and the pool keeps serving', async () => {
    for (let i = 0; i < DEPARTURES; i++) await leave('/drip', 'headers');
    assert.equal(await cutOffCount('/drip', DEPARTURES), DEPARTURES);
    await stillAnswers();
  });

  test('while a filtered body is collected: every upstream call is cut and the pool keeps serving', async () => {
    for (let i = 0; i < DEPARTURES; i++) await leave('/filtered', 'sent');
    assert.equal(await cutOffCount('/filtered', DEPARTURES), DEPARTURES);
    await stillAnswers();
  });

  test('while the upstream has not answered yet: every upstream call is cut and the pool keeps serving', async () => {
    for (let i = 0; i < DEPARTURES; i++) await leave('/quiet', 'sent');
    assert.equal(await cutOffCount('/quiet', DEPARTURES), DEPARTURES);
    await stillAnswers();
  });
});
