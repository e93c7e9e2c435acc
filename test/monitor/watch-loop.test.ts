import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { systemClock } from '../../src/core/clock.ts';
import type { EventSink, SecurityEvent } from '../../src/core/events.ts';
import { problems } from '../../src/core/problems.ts';
import { SIGNATURE_HEADER, verifySignature } from '../../src/monitor/alerts.ts';
import type { Alert } from '../../src/monitor/detectors/detector.ts';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.ts';
import { op, openapi, startGateway, startServer, type TestGateway, type TestServer } from '../harness.ts';

const SECRET = 'watch-loop-webhook-secret';

/** Forwards to a sink set once the monitor exists (the runtime is built first, for its state store). */
function forwardingSink(): EventSink & { target: EventSink } {
  return {
    target: { emit() {} },
    emit(e: SecurityEvent) {
      this.target.emit(e);
    },
  };
}

describe('watch loop through a real gateway', () => {
  let upstream: TestServer;
  let hook: TestServer;
  let gw: TestGateway;
  let monitor: Monitor;
  let dir: string;
  const received: Array<{ alert: Alert; signatureOk: boolean }> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-watch-'));
    // Order 7 belongs to the caller; every other id is someone else's (404).
    upstream = await startServer((req: IncomingMessage, res: ServerResponse) => {
      res.statusCode = req.url === '/orders/7' ? 200 : 404;
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    hook = await startServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({
          alert: JSON.parse(body),
          signatureOk: verifySignature(body, req.headers[SIGNATURE_HEADER] as string, SECRET),
        });
        res.end();
      });
    });
    const events = forwardingSink();
    gw = await startGateway({
      specs: {
        'openapi.yaml': openapi({
          '/orders/{orderId}': {
            get: op('getOrder', {
              parameters: [{ name: 'orderId', in: 'path', required: true, schema: { type: 'integer' } }],
            }),
          },
        }),
      },
      config: {
        apis: [
          {
            name: 'shop',
            spec: 'openapi.yaml',
            upstream: { url: upstream.url },
            policies: { ban: { cacheMs: 0 } },
          },
        ],
      },
      runtime: { events },
    });
    monitor = await createMonitor(
      {
        events: { store: 'sqlite', sqlite: { path: join(dir, 'events.db') }, flushIntervalMs: 10 },
        alerts: { webhook: { url: hook.url, secret: SECRET, retryInitialMs: 10 } },
      },
      {
        logger: pino({ level: 'silent' }),
        clock: systemClock,
        store: gw.runtime.store,
        metrics: gw.runtime.metrics,
      },
    );
    events.target = monitor.events;
  });

  after(async () => {
    await gw.close();
    await monitor.close();
    await upstream.close();
    await hook.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('an id walk is detected, alerted to the webhook, banned at the gateway, stored, and lifted by unban', async () => {
    const get = async (id: number) => {
      const res = await fetch(`${gw.url}/orders/${id}`);
      if (res.status !== 403) {
        await res.text();
        return { status: res.status, type: undefined };
      }
      const type = ((await res.json()) as { type: string }).type;
      return { status: res.status, type };
    };
    assert.equal((await get(7)).status, 200);
    for (let id = 100; id < 110; id++) assert.equal((await get(id)).status, 404);

    // The 10th sequential id raised the alert; the responder bans the anonymous caller's address.
    let after = { status: 0, type: undefined as string | undefined };
    for (let i = 0; i < 100; i++) {
      after = await get(7);
      if (after.status === 403) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(after, { status: 403, type: problems.banned.type });

    const [alert] = monitor.alerts();
    assert.deepEqual(
      { detector: alert.detector, rule: alert.rule, severity: alert.severity, offender: alert.offender },
      { detector: 'enumeration', rule: 'sequential-ids', severity: 'high', offender: { ip: '127.0.0.1' } },
    );
    assert.equal(alert.evidence.sampleRequestIds.length, 5);
    const bans = await monitor.bans.list();
    assert.deepEqual(
      bans.map((b) => [b.kind, b.value, b.source, b.alertId]),
      [['ip', '127.0.0.1', 'auto', alert.id]],
    );

    for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(received.length, 1);
    assert.equal(received[0].signatureOk, true);
    assert.equal(received[0].alert.id, alert.id);

    await monitor.events.flush();
    const stored = await monitor.query({ kind: 'alert' });
    assert.deepEqual(
      stored.events.map((e) => [e['event.id'], e['event.action'], e['rule.name'], e['client.address']]),
      [[alert.id, 'enumeration', 'sequential-ids', '127.0.0.1']],
    );
    const access = await monitor.query({ category: 'web', ip: '127.0.0.1', limit: 100 });
    // 1 + 10 before the ban, then the polling requests until the ban was in force (the last one refused).
    assert.ok(access.events.length >= 12);
    assert.equal(access.events[0]['portcullis.decision'], 'banned_ip');
    assert.equal((await monitor.query({ action: 'ban' })).events.length, 1);
    assert.match(
      gw.runtime.metrics.render(),
      /portcullis_alerts_total\{detector="enumeration",severity="high"\} 1/,
    );

    assert.equal(await monitor.bans.unban('ip', '127.0.0.1'), true);
    assert.equal((await get(7)).status, 200);
    await monitor.events.flush();
    assert.equal((await monitor.query({ action: 'unban' })).events.length, 1);
  });
});
