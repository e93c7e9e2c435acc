import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exchange } from '../../test/kit/operation.ts';
import { createManualClock } from '../core/clock.ts';
import { denialEvent } from './denial-events.ts';

describe('denialEvent', () => {
  const clock = createManualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
  const ex = exchange({ ip: '198.51.100.9' });

  test('an enforced denial: type denied, outcome failure, the request fields, nothing optional', () => {
    const event = denialEvent(clock, ex, {
      policy: 'authorize',
      action: 'authorize',
      category: 'api',
      reason: 'rule_denied',
      mode: 'enforce',
    });
    assert.deepEqual(event, {
      '@timestamp': '2026-01-02T03:04:05.000Z',
      'event.kind': 'event',
      'event.category': 'api',
      'event.type': 'denied',
      'event.action': 'authorize',
      'event.outcome': 'failure',
      'event.reason': 'rule_denied',
      'http.request.id': ex.id,
      'http.request.method': undefined,
      'url.path': '/things/1',
      'http.route': '/things/{id}',
      'source.ip': '198.51.100.9',
      'client.address': '198.51.100.9',
      'portcullis.api': 'things',
      'portcullis.operation_id': 'getThing',
      'rule.name': 'authorize',
      'portcullis.mode': 'enforce',
    });
  });

  test('a reported one is info with an unknown outcome, unless the check itself failed', () => {
    const base = { policy: 'p', action: 'a', category: 'web', reason: 'r', mode: 'report' } as const;
    const reported = denialEvent(clock, ex, base);
    assert.equal(reported['event.type'], 'info');
    assert.equal(reported['event.outcome'], 'unknown');
    assert.equal(reported['portcullis.mode'], 'report');
    const failed = denialEvent(clock, ex, { ...base, outcome: 'failure' });
    assert.equal(failed['event.type'], 'info');
    assert.equal(failed['event.outcome'], 'failure');
  });

  test('alert, severity, message and subject when given', () => {
    const event = denialEvent(clock, ex, {
      policy: 'crs',
      action: 'injection-detected',
      category: 'intrusion_detection',
      reason: 'crs',
      mode: 'enforce',
      alert: true,
      severity: 3,
      message: 'matched',
      subject: 'alice',
    });
    assert.equal(event['event.kind'], 'alert');
    assert.equal(event['event.severity'], 3);
    assert.equal(event.message, 'matched');
    assert.equal(event['user.id'], 'alice');
  });

  test('the decision time when given, else the clock now', () => {
    const base = { policy: 'p', action: 'a', category: 'api', reason: 'r', mode: 'enforce' } as const;
    const at = Date.UTC(2026, 0, 2, 3, 4, 1, 250);
    assert.equal(denialEvent(clock, ex, { ...base, at })['@timestamp'], '2026-01-02T03:04:01.250Z');
    assert.equal(denialEvent(clock, ex, base)['@timestamp'], '2026-01-02T03:04:05.000Z');
  });
});
