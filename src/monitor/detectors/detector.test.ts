import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedMap, boundKey, CappedSet, SlidingCount, timeOf } from './detector.ts';

const at = (s: unknown) =>
  timeOf({
    '@timestamp': s as string,
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'event.action': 'x',
  });

describe('detector building blocks', () => {
  test('timeOf reads toISOString timestamps exactly and falls back to Date.parse for other forms', () => {
    for (const ms of [0, Date.UTC(2026, 1, 28, 23, 59, 59, 999), Date.UTC(2024, 1, 29, 12, 0, 0, 1)])
      assert.equal(at(new Date(ms).toISOString()), ms);
    assert.equal(at('2026-03-01T10:00:00+01:00'), Date.UTC(2026, 2, 1, 9));
    assert.ok(Number.isNaN(at('2026-13-01T00:00:00.000Z')));
    assert.ok(Number.isNaN(at('not a time')));
    assert.ok(Number.isNaN(at(undefined)));
  });

  test('boundKey keeps short keys and shortens long ones without merging distinct keys', () => {
    assert.equal(boundKey('sub:alice'), 'sub:alice');
    const a = boundKey(`user:${'a'.repeat(100_000)}1`);
    const b = boundKey(`user:${'a'.repeat(100_000)}2`);
    assert.ok(a.length < 450 && b.length < 450);
    assert.notEqual(a, b);
  });

  test('BoundedMap evicts the least recently used key when full, and a recently used key survives', () => {
    const m = new BoundedMap<number>(4);
    for (const k of ['a', 'b', 'c', 'd']) m.touch(k, () => 1);
    for (let i = 0; i < 3; i++) m.touch('a', () => 0); // 'a' ages past half the map, then is refreshed
    m.touch('e', () => 1);
    assert.equal(m.size, 4);
    assert.equal(m.evicted, 1);
    assert.equal(m.get('a'), 1);
    assert.equal(m.get('b'), undefined);
  });

  test('CappedSet keeps at most its cap and counts further members as overflow', () => {
    const s = new CappedSet(3);
    for (const v of ['a', 'b', 'c', 'a', 'd', 'e']) s.add(v);
    assert.equal(s.size, 5);
    assert.equal(s.overflow, 2);
    assert.deepEqual(s.sample(10), ['a', 'b', 'c']);
  });

  test('SlidingCount forgets what left the window, one bucket at a time', () => {
    const c = new SlidingCount(10_000, 10);
    for (let t = 0; t < 10_000; t += 1000) c.add(t);
    assert.equal(c.count(9_999), 10);
    assert.equal(c.count(10_000), 9);
    assert.equal(c.count(15_500), 4);
    assert.equal(c.count(60_000), 0);
  });
});
