import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ScanResponse } from './client.ts';
import { createdId, findCreated, idOf, itemsOf } from './discover.ts';

function answer(json: unknown, headers: Record<string, string> = {}): ScanResponse {
  return {
    status: 201,
    headers,
    text: JSON.stringify(json),
    json,
    durationMs: 1,
    sent: { method: 'POST', url: 'x' },
  };
}

describe('finding what a create made', () => {
  test('reads the id at the top, under data, in one nested object, or from Location', () => {
    assert.equal(createdId(answer({ id: 4 }), 'pet_id', 'pet'), '4');
    assert.equal(createdId(answer({ success: true, data: { _id: 'ab' } }), 'boardId', 'board'), 'ab');
    assert.equal(createdId(answer({ message: 'ok', book: { book_id: 'bk-1' } }), 'book_id', 'book'), 'bk-1');
    assert.equal(createdId(answer({ message: 'ok' }, { location: '/things/t-2?x=1' }), 'id', 'thing'), 't-2');
    // Another spelling of the item parameter or of the entity: `{cardId}` / `credit-card` for `card_id`.
    assert.equal(createdId(answer({ user_id: 'u-1', card_id: 'c-1' }), 'cardId', 'credit-card'), 'c-1');
    assert.equal(createdId(answer({ user_id: 'u-1', credit_card_id: 'c-2' }), 'card', 'credit-card'), 'c-2');
    assert.equal(
      createdId(answer({ status: 'success', message: 'Book added.' }), 'book_id', 'book'),
      undefined,
    );
  });

  test('finds an object created without an id in the list, by a value it was sent', () => {
    const before = { books: [{ book_id: 'bk-1', book_title: 'A' }] };
    const after = {
      books: [
        { book_id: 'bk-1', book_title: 'A' },
        { book_id: 'bk-2', book_title: 'portcullis-0a1b2c3d' },
        { book_id: 'bk-3', book_title: 'B' },
      ],
    };
    const sent = { book_title: 'portcullis-0a1b2c3d' };
    assert.equal(findCreated(before, after, sent, 'book_id', 'book')?.id, 'bk-2');
  });

  test('falls back to the one new item of the list when nothing it was sent is unique', () => {
    const before = [{ id: 1 }];
    assert.equal(findCreated(before, [{ id: 1 }, { id: 5 }], { name: 'Rex' }, 'pet_id', 'pet')?.id, '5');
    assert.equal(
      findCreated(before, [{ id: 1 }, { id: 5 }, { id: 6 }], { name: 'Rex' }, 'pet_id', 'pet'),
      undefined,
    );
  });

  test('reads items from a bare array or the first array under a wrapper', () => {
    assert.equal(itemsOf([1, 2]).length, 2);
    assert.equal(itemsOf({ count: 1, data: [{ id: 1 }] }).length, 1);
    assert.equal(idOf({ pet_id: 3, id: 9 }, 'pet_id', 'pet'), '3');
  });
});
