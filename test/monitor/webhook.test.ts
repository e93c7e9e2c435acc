import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import pino from 'pino';
import {
  createWebhookNotifier,
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  signBody,
  TIMESTAMP_HEADER,
  verifySignature,
  webhookDefaults,
} from '../../src/monitor/alerts.ts';
import type { Alert } from '../../src/monitor/detectors/detector.ts';
import { startServer } from '../harness.ts';

const SECRET = 'webhook-test-secret';
const logger = pino({ level: 'silent' });

function alert(id: string): Alert {
  return {
    id,
    '@timestamp': '2026-03-01T10:00:00.000Z',
    detector: 'enumeration',
    rule: 'sequential-ids',
    severity: 'high',
    summary: 'mallory walked 10 sequential ids of getOrder',
    offender: { subject: 'mallory' },
    evidence: { windowSeconds: 300, sampleRequestIds: ['r1', 'r2'] },
  };
}

interface Received {
  body: string;
  signatureOk: boolean;
  timestamp: string | undefined;
  delivery: string | undefined;
}

/** A receiver that checks every signature and answers with the statuses given, then 200. */
async function receiver(statuses: number[] = []) {
  const got: Received[] = [];
  const server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      got.push({
        body,
        signatureOk: verifySignature(body, req.headers[SIGNATURE_HEADER] as string, SECRET),
        timestamp: req.headers[TIMESTAMP_HEADER] as string | undefined,
        delivery: req.headers[DELIVERY_HEADER] as string | undefined,
      });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  return { server, got };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}

const fast = { ...webhookDefaults, retryInitialMs: 10, retryMaxMs: 40, timeoutMs: 2000 };

describe('alert webhook', () => {
  test('posts the alert as JSON with a signature the receiver verifies and a timestamp header', async () => {
    const { server, got } = await receiver();
    const hook = createWebhookNotifier({ ...fast, url: `${server.url}/hook`, secret: SECRET }, logger);
    hook.send(alert('a1'));
    await until(() => hook.stats().delivered === 1);
    assert.equal(got.length, 1);
    assert.deepEqual(JSON.parse(got[0].body), alert('a1'));
    assert.equal(got[0].signatureOk, true);
    assert.equal(got[0].delivery, 'a1');
    assert.ok(Math.abs(Number(got[0].timestamp) - Date.now() / 1000) < 60);
    await hook.close();
    await server.close();
  });

  test('a receiver with another secret finds the signature invalid', async () => {
    const body = JSON.stringify(alert('a2'));
    assert.equal(verifySignature(body, signBody(body, 'another-secret'), SECRET), false);
    assert.equal(verifySignature(body, signBody(body, SECRET), SECRET), true);
    assert.equal(verifySignature(`${body} `, signBody(body, SECRET), SECRET), false);
    assert.equal(verifySignature(body, 'sha256=zz', SECRET), false);
    assert.equal(verifySignature(body, undefined, SECRET), false);
  });

  test('retries 503 and 429 with backoff, same delivery id, until the receiver accepts', async () => {
    const { server, got } = await receiver([503, 429]);
    const hook = createWebhookNotifier({ ...fast, url: server.url, secret: SECRET }, logger);
    hook.send(alert('a3'));
    await until(() => hook.stats().delivered === 1);
    assert.deepEqual(
      got.map((g) => [g.delivery, g.signatureOk]),
      [
        ['a3', true],
        ['a3', true],
        ['a3', true],
      ],
    );
    assert.deepEqual(hook.stats(), { delivered: 1, failedAttempts: 2, dropped: 0, queued: 0 });
    await hook.close();
    await server.close();
  });

  test('does not retry a 400 and counts the alert as dropped', async () => {
    const { server, got } = await receiver([400]);
    const hook = createWebhookNotifier({ ...fast, url: server.url, secret: SECRET }, logger);
    hook.send(alert('a4'));
    hook.send(alert('a5'));
    await until(() => hook.stats().delivered === 1);
    assert.deepEqual(
      got.map((g) => g.delivery),
      ['a4', 'a5'],
    );
    assert.equal(hook.stats().dropped, 1);
    await hook.close();
    await server.close();
  });

  test('gives up after maxAttempts when the receiver is down and counts the loss', async () => {
    const { server } = await receiver();
    const url = server.url;
    await server.close();
    const hook = createWebhookNotifier({ ...fast, url, secret: SECRET, maxAttempts: 3 }, logger);
    hook.send(alert('a6'));
    await until(() => hook.stats().dropped === 1);
    assert.deepEqual(hook.stats(), { delivered: 0, failedAttempts: 3, dropped: 1, queued: 0 });
    await hook.close();
  });

  test('keeps at most queueSize alerts waiting and counts the ones it drops', async () => {
    const { server } = await receiver();
    const url = server.url;
    await server.close();
    const hook = createWebhookNotifier(
      { ...fast, url, secret: SECRET, queueSize: 3, maxAttempts: 1 },
      logger,
    );
    for (let i = 0; i < 10; i++) hook.send(alert(`q${i}`));
    assert.ok(hook.stats().queued <= 3);
    await until(() => hook.stats().queued === 0);
    const s = hook.stats();
    assert.equal(s.delivered + s.dropped, 10);
    await hook.close();
  });
});
