import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addSample, BoundedMap, boundKey, CappedSet, SlidingCount, sampleList, timeOf } from './detector.ts';

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

  test('SlidingCount counts as a plain ring of buckets would, wherever the events fall', () => {
    // The reference: every event kept with its bucket; the count is what lies in the last `buckets` buckets.
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const c = new SlidingCount(10_000, 10);
    const seen: number[] = [];
    let newest = -1;
    let t = 5_000;
    for (let i = 0; i < 2000; i++) {
      t += Math.floor(random() ** 3 * 30_000);
      const late = random() < 0.1 ? t - 3000 : t;
      const bucket = Math.max(newest, Math.floor(late / 1000));
      newest = bucket;
      const n = 1 + Math.floor(random() * 3);
      for (let k = 0; k < n; k++) seen.push(bucket);
      const expected = seen.filter((b) => b > bucket - 10).length;
      assert.equal(c.add(late, n), expected, `event ${i}`);
      if (random() < 0.3) {
        const later = t + Math.floor(random() * 12_000);
        const now = Math.max(newest, Math.floor(later / 1000));
        assert.equal(c.count(later), seen.filter((b) => b > now - 10).length, `count after event ${i}`);
        newest = now;
        t = Math.max(t, later);
      }
    }
  });

  test('addSample keeps the last five request ids in order, and ids of any case', () => {
    let s = '';
    assert.deepEqual(sampleList(s), []);
    s = addSample(s, undefined);
    assert.equal(s, '');
    s = addSample(s, 'A1b2C3d4e5f6a7b8c9d0e1f2');
    assert.deepEqual(sampleList(s), ['A1b2C3d4e5f6a7b8c9d0e1f2']);
    for (let i = 0; i < 7; i++) s = addSample(s, `id-${i}`);
    assert.deepEqual(sampleList(s), ['id-2', 'id-3', 'id-4', 'id-5', 'id-6']);
    let two = '';
    for (const id of ['x', 'y', 'z']) two = addSample(two, id, 2);
    assert.deepEqual(sampleList(two), ['y', 'z']);
    let one = '';
    for (const id of ['x', 'y', 'z']) one = addSample(one, id, 1);
    assert.deepEqual(sampleList(one), ['z']);
    assert.equal(addSample('', 'x', 0), '');
    // An id that holds the separator is not kept (it would read back as two ids).
    assert.deepEqual(sampleList(addSample('a', 'b\u0000c')), ['a']);
  });

  test('addSample keeps a flat string whose length is the ids and separators only', () => {
    let s = '';
    for (let i = 0; i < 20; i++) s = addSample(s, `request-${String(i).padStart(4, '0')}`);
    assert.equal(s.length, 5 * 'request-0000'.length + 4);
    assert.deepEqual(sampleList(s), [
      'request-0015',
      'request-0016',
      'request-0017',
      'request-0018',
      'request-0019',
    ]);
  });

  test('CappedSet answers the same with one member as with many, and after clear', () => {
    const s = new CappedSet(3);
    assert.equal(s.add('a'), true);
    assert.equal(s.add('a'), false);
    assert.equal(s.has('a'), true);
    assert.equal(s.has('b'), false);
    assert.deepEqual(s.sample(5), ['a']);
    assert.equal(s.add('b'), true);
    assert.equal(s.add('a'), false);
    assert.deepEqual(s.sample(1), ['a']);
    assert.deepEqual(s.sample(5), ['a', 'b']);
    s.clear();
    assert.equal(s.size, 0);
    assert.equal(s.has('a'), false);
    assert.deepEqual(s.sample(5), []);
    assert.equal(s.add('c'), true);
    assert.deepEqual(s.sample(5), ['c']);
    const none = new CappedSet(0);
    assert.equal(none.add('x'), true);
    assert.equal(none.size, 1);
    assert.deepEqual(none.sample(5), []);
  });
});
