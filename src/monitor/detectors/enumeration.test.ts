import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { access, getOrder } from '../../../test/kit/access-events.ts';
import { createEnumerationDetector, enumerationDefaults } from './enumeration.ts';
import { replay } from './index.ts';

const make = () => createEnumerationDetector(enumerationDefaults);
// Ids that never step by exactly 1, so only the distinct-ids rule can fire.
const scattered = (i: number) => 1000 + i * 7;

describe('enumeration detector', () => {
  test('alerts when one user touches 20 distinct orders and most answer 404', () => {
    const events = Array.from({ length: 20 }, (_, i) =>
      getOrder(i * 1000, 'mallory', scattered(i), i % 4 === 0 ? 200 : 404),
    );
    const alerts = replay(make(), events);
    assert.equal(alerts.length, 1);
    const a = alerts[0];
    assert.deepEqual(
      { rule: a.rule, severity: a.severity, offender: a.offender, operationId: a.operationId, api: a.api },
      {
        rule: 'distinct-ids',
        severity: 'high',
        offender: { ip: '203.0.113.7', subject: 'mallory' },
        operationId: 'getOrder',
        api: 'shop',
      },
    );
    assert.equal(a.evidence.distinctIds, 20);
    assert.equal(a.evidence.failures, 15);
    assert.deepEqual(
      a.evidence.sampleRequestIds,
      events.slice(-5).map((e) => e['http.request.id']),
    );
  });

  test('alerts on a walk of 10 sequential ids even when every answer is 200', () => {
    const events = Array.from({ length: 10 }, (_, i) => getOrder(i * 1000, 'mallory', 500 + i));
    const alerts = replay(make(), events);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].rule, 'sequential-ids');
    assert.equal(alerts[0].severity, 'medium');
    assert.equal(alerts[0].evidence.sequentialRun, 10);
  });

  test('alerts once per cooldown, not on every further request', () => {
    const events = Array.from({ length: 60 }, (_, i) => getOrder(i * 1000, 'mallory', 500 - i, 404));
    assert.equal(replay(make(), events).length, 1);
  });

  test('stays quiet for a user reading 19 distinct orders mostly answered 404', () => {
    const events = Array.from({ length: 19 }, (_, i) => getOrder(i * 1000, 'alice', scattered(i), 404));
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet for a user reading 40 distinct orders of their own (all 200, not sequential)', () => {
    const events = Array.from({ length: 40 }, (_, i) => getOrder(i * 1000, 'alice', scattered(i)));
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet for a user re-reading the same few orders many times', () => {
    const events = Array.from({ length: 300 }, (_, i) =>
      getOrder(i * 500, 'alice', [7, 8, 42][i % 3], i % 2 ? 404 : 200),
    );
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet when the distinct ids are spread over separate windows', () => {
    // 15 ids, then 6 minutes later 15 more: never 20 in one 5-minute window.
    const events = [
      ...Array.from({ length: 15 }, (_, i) => getOrder(i * 1000, 'alice', scattered(i), 404)),
      ...Array.from({ length: 15 }, (_, i) => getOrder(360_000 + i * 1000, 'alice', scattered(100 + i), 404)),
    ];
    assert.deepEqual(replay(make(), events), []);
  });

  test('keeps different users apart: ten users each touching a few ids raise nothing', () => {
    const events = Array.from({ length: 100 }, (_, i) =>
      getOrder(i * 100, `user${i % 10}`, scattered(i), 404),
    );
    assert.deepEqual(replay(make(), events), []);
  });

  test('ignores operations without path parameters', () => {
    const events = Array.from({ length: 50 }, (_, i) =>
      access(i * 100, {
        'user.id': 'mallory',
        'http.response.status_code': 404,
        'portcullis.operation_id': 'listOrders',
      }),
    );
    assert.deepEqual(replay(make(), events), []);
  });

  test('tracks at most maxKeys callers', () => {
    const d = createEnumerationDetector({ ...enumerationDefaults, maxKeys: 50 });
    replay(
      d,
      Array.from({ length: 500 }, (_, i) => getOrder(i, `user${i}`, i)),
    );
    assert.equal(d.size(), 50);
  });
});
