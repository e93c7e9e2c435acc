import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { access } from '../../../test/kit/access-events.ts';
import { replay } from './index.ts';
import { createVolumetricDetector, volumetricDefaults } from './volumetric.ts';

const make = () => createVolumetricDetector(volumetricDefaults);
const MIN = 60_000;

/** `perMinute` requests from `user` spread evenly over minute `m`. */
function minute(m: number, user: string, perMinute: number) {
  return Array.from({ length: perMinute }, (_, i) =>
    access(m * MIN + Math.floor((i * MIN) / perMinute), {
      'user.id': user,
      'portcullis.operation_id': 'listProducts',
      'http.route': '/products',
    }),
  );
}

function merge(...lists: ReturnType<typeof minute>[]) {
  return lists.flat().sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));
}

describe('volumetric detector', () => {
  test('alerts when a caller jumps far above its own baseline', () => {
    const events = merge(
      ...Array.from({ length: 5 }, (_, m) => minute(m, 'scraper', 20)),
      minute(5, 'scraper', 400),
    );
    const alerts = replay(make(), events);
    assert.equal(alerts.length, 1);
    assert.deepEqual(
      { rule: alerts[0].rule, offender: alerts[0].offender, baselineOf: alerts[0].evidence.baselineOf },
      {
        rule: 'above-own-baseline',
        offender: { ip: '203.0.113.7', subject: 'scraper' },
        baselineOf: 'caller',
      },
    );
    assert.equal(alerts[0].evidence.requests, 201);
  });

  test('alerts when a new caller starts far above the operation baseline', () => {
    const regulars = Array.from({ length: 10 }, (_, u) =>
      Array.from({ length: 4 }, (_, m) => minute(m, `user${u}`, 10)).flat(),
    );
    const events = merge(...regulars, minute(4, 'newcomer', 300));
    const alerts = replay(make(), events);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].rule, 'above-operation-baseline');
    assert.deepEqual(alerts[0].offender, { ip: '203.0.113.7', subject: 'newcomer' });
  });

  test('stays quiet for a busy caller at a steady high rate', () => {
    const events = merge(...Array.from({ length: 10 }, (_, m) => minute(m, 'bulk-client', 500)));
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet for a caller that doubles its rate', () => {
    const events = merge(...Array.from({ length: 5 }, (_, m) => minute(m, 'app', 60)), minute(5, 'app', 120));
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet below minRequests whatever the ratio', () => {
    const events = merge(
      ...Array.from({ length: 5 }, (_, m) => minute(m, 'quiet', 1)),
      minute(5, 'quiet', 90),
    );
    assert.deepEqual(replay(make(), events), []);
  });

  test('tracks at most maxKeys callers', () => {
    const d = createVolumetricDetector({ ...volumetricDefaults, maxKeys: 100 });
    replay(
      d,
      Array.from({ length: 1000 }, (_, i) => access(i, { 'user.id': `u${i}` })),
    );
    assert.ok(d.size() <= 200);
  });
});
