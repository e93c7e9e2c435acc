import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fieldNames, withoutEcho } from './api3-property-authorization.ts';

describe('what the mass-assignment probe reads in an answer', () => {
  test('drops the objects that echo the request, keeps the stored record', () => {
    const sent = { name: 'shop', is_admin: true, portcullisProbe: 'pcma-1' };
    const answer = {
      merchant: { id: 7, name: 'shop', is_admin: false },
      debug: { raw_request: { name: 'shop', is_admin: true, portcullisProbe: 'pcma-1' } },
    };
    assert.deepEqual(withoutEcho(answer, sent), {
      merchant: { id: 7, name: 'shop', is_admin: false },
      debug: { raw_request: null },
    });
    // Without the probe field (one field at a time), an exact copy of the body is an echo too.
    const single = { book_title: 'x', approved: true };
    assert.deepEqual(withoutEcho({ loan: { id: 1, ...single }, request: single }, single), {
      loan: { id: 1, book_title: 'x', approved: true },
      request: null,
    });
  });

  test('lists the property names an answer shows, at any depth', () => {
    assert.deepEqual(
      [
        ...fieldNames({ status: 'ok', debug_data: { is_admin: false, balance: 1 }, items: [{ id: 1 }] }),
      ].sort(),
      ['balance', 'debug_data', 'id', 'is_admin', 'items', 'status'],
    );
  });
});
