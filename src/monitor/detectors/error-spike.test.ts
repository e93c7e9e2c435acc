import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { access } from '../../../test/kit/access-events.ts';
import { createErrorSpikeDetector, errorSpikeDefaults } from './error-spike.ts';
import { replay } from './index.ts';

const make = () => createErrorSpikeDetector(errorSpikeDefaults);

/** `n` requests per minute over `minutes`, one in `errorEvery` answered 500 (0 = none). */
function traffic(fromMin: number, minutes: number, n: number, errorEvery: number) {
  const out = [];
  for (let m = 0; m < minutes; m++)
    for (let i = 0; i < n; i++)
      out.push(
        access((fromMin + m) * 60_000 + Math.floor((i * 60_000) / n), {
          'http.response.status_code': errorEvery > 0 && i % errorEvery === 0 ? 500 : 200,
        }),
      );
  return out;
}

describe('error spike detector', () => {
  test('alerts when a route that rarely fails starts failing one request in two', () => {
    const alerts = replay(make(), [...traffic(0, 5, 100, 100), ...traffic(5, 1, 100, 2)]);
    assert.equal(alerts.length, 1);
    assert.deepEqual(
      {
        rule: alerts[0].rule,
        route: alerts[0].route,
        operationId: alerts[0].operationId,
        offender: alerts[0].offender,
      },
      { rule: 'server-errors', route: '/orders/{orderId}', operationId: 'getOrder', offender: {} },
    );
    assert.ok((alerts[0].evidence.errors as number) >= 10);
    assert.equal(alerts[0].evidence.sampleRequestIds.length, 5);
  });

  test('stays quiet for a route that always fails at the same share', () => {
    assert.deepEqual(replay(make(), traffic(0, 10, 100, 4)), []);
  });

  test('stays quiet for a handful of errors on a quiet route', () => {
    assert.deepEqual(replay(make(), traffic(0, 3, 10, 2)), []);
  });

  test('stays quiet for 4xx answers, which are not server errors', () => {
    const events = Array.from({ length: 100 }, (_, i) =>
      access(i * 100, { 'http.response.status_code': 404 }),
    );
    assert.deepEqual(replay(make(), events), []);
  });
});
