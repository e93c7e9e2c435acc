import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoMillis } from './events.ts';

test('isoMillis reads a time exactly as Date.parse does, edge cases included', () => {
  const edges = [
    '2026-02-31T00:00:00.000Z',
    '2024-02-29T12:00:00.000Z',
    '2023-02-29T12:00:00.000Z',
    '1900-02-29T00:00:00.000Z',
    '2000-02-29T00:00:00.000Z',
    '2026-01-01T00:00:60.000Z',
    '2026-01-01T24:00:00.000Z',
    '0050-01-01T00:00:00.000Z',
    '2026-13-01T00:00:00.000Z',
    '2026-11-29T15:30:00.123Z',
    '2026-11-29T15:30:00Z',
    '2026-11-29T15:30:00.123+01:00',
    '2026-1x-29T15:30:00.123Z',
    'yesterday',
  ];
  for (const s of edges) assert.ok(Object.is(isoMillis(s), Date.parse(s)), s);
  // Random instants from 1970 to 2250, in the form every event carries.
  let seed = 7;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const s = new Date(Math.floor((seed / 2147483648) * 8.8e12)).toISOString();
    assert.equal(isoMillis(s), Date.parse(s), s);
  }
});
