import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createManualClock } from '../core/clock.ts';
import type { SecurityEvent } from '../core/events.ts';
import { createTrafficStats, templatePath } from './traffic-stats.ts';

function access(fields: Record<string, unknown>): SecurityEvent {
  return {
    '@timestamp': new Date().toISOString(),
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'event.action': 'http-request',
    'http.request.method': 'GET',
    'url.path': '/orders',
    'http.route': '/orders',
    'http.response.status_code': 200,
    'client.address': '192.0.2.1',
    'portcullis.decision': 'allow',
    'portcullis.api': 'shop',
    'portcullis.operation_id': 'listOrders',
    'event.duration_ms': 3,
    ...fields,
  };
}

test('templates shadow paths the way API discovery does: ids by their shape', () => {
  assert.equal(templatePath('/users/42/orders/7'), '/users/{id}/orders/{id2}');
  assert.equal(templatePath('/files/3f2b8c1e-9d4a-4b7e-8f00-0123456789ab'), '/files/{uuid}');
  assert.equal(templatePath('/admin/config'), '/admin/config');
});

test('counts requests per second with status classes, denials and latency percentiles', () => {
  const clock = createManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const stats = createTrafficStats({ clock, windowSeconds: 60 });
  for (let i = 0; i < 18; i++) stats.record(access({ 'event.duration_ms': 3 }));
  stats.record(access({ 'event.duration_ms': 400, 'http.response.status_code': 502 }));
  stats.record(access({ 'http.response.status_code': 401, 'portcullis.decision': 'missing_credentials' }));
  clock.advance(1000);
  const p = stats.point();
  assert.deepEqual(
    [p.requests, p.denied, p.s2xx, p.s4xx, p.s5xx, p.p50, p.p95, p.p99],
    [20, 1, 18, 1, 1, 5, 5, 500],
  );
  const snap = stats.snapshot(10);
  // One complete second since the start: the series does not reach back before it.
  assert.deepEqual(
    snap.series.map((x) => [x.t, x.requests]),
    [[Date.UTC(2026, 0, 1, 12, 0, 0) / 1000, 20]],
  );
  assert.deepEqual(snap.totals.byStatus, { '1xx': 0, '2xx': 18, '3xx': 0, '4xx': 1, '5xx': 1 });
  assert.deepEqual(snap.decisions, { allow: 19, missing_credentials: 1 });
  assert.deepEqual(stats.operation('shop', 'listOrders'), {
    requests: 20,
    denied: 1,
    errors: 1,
    lastSeen: new Date(Date.UTC(2026, 0, 1, 12, 0, 0)).toISOString(),
  });
});

test('forgets a second once the window has moved past it', () => {
  const clock = createManualClock();
  const stats = createTrafficStats({ clock, windowSeconds: 5 });
  stats.record(access({}));
  clock.advance(5000);
  stats.record(access({}));
  clock.advance(1000);
  const series = stats.snapshot().series;
  assert.deepEqual(
    series.map((p) => p.requests),
    [0, 0, 0, 0, 1],
  );
});

test('ranks offenders by alerts, then denials and failed logins, and ignores clean clients', () => {
  const clock = createManualClock();
  const stats = createTrafficStats({ clock });
  stats.record(access({ 'client.address': '192.0.2.10' }));
  for (let i = 0; i < 5; i++)
    stats.record(
      access({
        'client.address': '192.0.2.20',
        'portcullis.decision': 'invalid_token',
        'portcullis.stage': 'authenticate',
        'http.response.status_code': 401,
      }),
    );
  stats.record(
    access({
      'client.address': '192.0.2.30',
      'portcullis.decision': 'forbidden',
      'http.response.status_code': 403,
    }),
  );
  stats.record({
    '@timestamp': new Date().toISOString(),
    'event.kind': 'alert',
    'event.category': 'intrusion_detection',
    'event.type': 'indicator',
    'event.action': 'enumeration',
    'source.ip': '192.0.2.30',
  });
  const offenders = stats.snapshot().offenders;
  assert.deepEqual(
    offenders.map((o) => [o.ip, o.denied, o.authFailures, o.alerts]),
    [
      ['192.0.2.30', 1, 0, 1],
      ['192.0.2.20', 5, 5, 0],
    ],
  );
});

test('keeps at most maxClients client addresses, evicting the least active first', () => {
  const clock = createManualClock();
  const stats = createTrafficStats({ clock, maxClients: 100 });
  for (let i = 0; i < 20; i++)
    stats.record(access({ 'client.address': '203.0.113.1', 'portcullis.decision': 'banned' }));
  for (let i = 0; i < 5000; i++)
    stats.record(access({ 'client.address': `10.0.${i >> 8}.${i & 255}`, 'portcullis.decision': 'banned' }));
  const offenders = stats.snapshot(60, 1000).offenders;
  assert.ok(offenders.length <= 100);
  assert.equal(offenders[0].ip, '203.0.113.1');
});

test('tallies undeclared paths as shadow endpoints with ids templated, bounded by maxShadow', () => {
  const clock = createManualClock();
  const stats = createTrafficStats({ clock, maxShadow: 10 });
  const undeclared = (path: string) =>
    access({
      'url.path': path,
      'http.route': undefined,
      'portcullis.decision': 'undeclared_route',
      'http.response.status_code': 404,
    });
  for (const id of [1, 2, 3]) stats.record(undeclared(`/internal/users/${id}`));
  for (let i = 0; i < 50; i++) stats.record(undeclared(`/probe-${i}`));
  const shadow = stats.shadowEndpoints();
  assert.ok(shadow.length <= 10);
  assert.deepEqual([shadow[0].method, shadow[0].path, shadow[0].count], ['GET', '/internal/users/{id}', 3]);
});
