import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedCache } from './bounded-cache.ts';

describe('BoundedCache', () => {
  test('keeps at most its cap, oldest inserted out first, and counts evictions', () => {
    const c = new BoundedCache<string, number>(3);
    for (let i = 0; i < 5; i++) c.set(`k${i}`, i);
    assert.equal(c.size, 3);
    assert.deepEqual([...c.values()], [2, 3, 4]);
    assert.equal(c.get('k0'), undefined);
    assert.equal(c.get('k4'), 4);
    assert.equal(c.evicted, 2);
  });

  test('a flood of new keys never grows it past the cap', () => {
    const c = new BoundedCache<string, number>(100);
    for (let i = 0; i < 10_000; i++) c.set(`client-${i}`, i, 1_000 + i, i);
    assert.equal(c.size, 100);
  });

  test('overwriting a key keeps one entry and does not evict', () => {
    const c = new BoundedCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    c.set('a', 3);
    assert.equal(c.size, 2);
    assert.equal(c.get('a'), 3);
    assert.equal(c.get('b'), 2);
    assert.equal(c.evicted, 0);
  });

  test('never returns an expired entry, and drops it on read', () => {
    const c = new BoundedCache<string, string>(10);
    c.set('token', 'alice', 1_000, 0);
    assert.equal(c.get('token', 999), 'alice');
    assert.equal(c.get('token', 1_000), undefined);
    assert.equal(c.size, 0);
    c.set('late', 'x', 5, 5);
    assert.equal(c.size, 0, 'an entry already expired is not stored');
  });

  test('when full, expired entries go before live ones', () => {
    const c = new BoundedCache<string, number>(4);
    c.set('old-1', 1, 10, 0);
    c.set('old-2', 2, 10, 0);
    c.set('live-1', 3, 1_000, 0);
    c.set('live-2', 4, 1_000, 0);
    c.set('new', 5, 1_000, 50);
    assert.deepEqual([...c.values()].sort(), [3, 4, 5]);
    assert.equal(c.evicted, 0);
  });

  test('with refreshOnRead, a key read often outlives a flood of new ones', () => {
    const lru = new BoundedCache<string, number>(8, { refreshOnRead: true });
    const fifo = new BoundedCache<string, number>(8);
    for (const c of [lru, fifo]) {
      c.set('hot', 0);
      for (let i = 0; i < 100; i++) {
        c.set(`cold-${i}`, i);
        c.get('hot');
      }
    }
    assert.equal(lru.get('hot'), 0);
    assert.equal(fifo.get('hot'), undefined);
  });

  test('stores keys in the form storedKey gives', () => {
    const stored: string[] = [];
    const c = new BoundedCache<string, number>(4, {
      storedKey: (k) => {
        stored.push(k);
        return k;
      },
    });
    c.set('a', 1);
    c.set('a', 2);
    assert.deepEqual(stored, ['a']);
  });

  test('getOrSet makes a value once', () => {
    const c = new BoundedCache<string, number[]>(4);
    const a = c.getOrSet('k', () => []);
    a.push(1);
    assert.deepEqual(
      c.getOrSet('k', () => []),
      [1],
    );
  });

  test('a cap of 0 keeps nothing; deleteWhere removes matching values', () => {
    const none = new BoundedCache<string, number>(0);
    none.set('a', 1);
    assert.equal(none.size, 0);
    const c = new BoundedCache<string, { issuer: number }>(10);
    c.set('t1', { issuer: 1 });
    c.set('t2', { issuer: 2 });
    c.set('t3', { issuer: 1 });
    assert.equal(
      c.deleteWhere((v) => v.issuer === 1),
      2,
    );
    assert.equal(c.size, 1);
  });
});
