import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildApiDocument } from '../../openapi/load.ts';
import type { ScanResponse } from './client.ts';
import {
  createdId,
  findCreated,
  idOf,
  itemsOf,
  namesPersonIn,
  ownRecordPath,
  ownRecordWrite,
  passwordName,
  readLikePost,
  setsPassword,
  withOwnAccount,
} from './discover.ts';
import { ObjectRegistry, planRequest } from './planner.ts';

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

describe('writes under the sender’s own record', () => {
  test('a caller segment followed by anything, or profile/account before any path parameter', () => {
    for (const path of [
      '/me',
      '/api/me/avatar',
      '/api/me/notifications',
      '/api/account/bio',
      '/users/me/settings/theme',
      '/api/v1/self/photo',
      '/my/preferences',
      '/current_user/theme',
      '/currentUser/avatar',
      '/whoami/status',
      '/users/current/avatar',
      '/profile/picture',
      '/orgs/{org}/me/settings',
      '/api/me/avatar?size=large',
      // An action on an item of one's own: A's record may hold which address is the default.
      '/me/addresses/{id}/default',
    ])
      assert.ok(ownRecordPath(path), path);
    for (const path of [
      '/users/{id}/profile',
      '/users/{id}/profile/avatar',
      '/profile/{username}/follow',
      '/account/{account_id}/close',
      '/accounts',
      '/profiles/avatar',
      '/memes/upload',
      '/users/5/current',
      '/current/weather',
      '/orders',
    ])
      assert.ok(!ownRecordPath(path), path);
  });

  const ok = { responses: { '200': { description: 'ok' } } };
  const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
  const spec = buildApiDocument('/own.yaml', '3.1', {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    paths: {
      '/api/me': { get: ok, post: ok },
      '/api/me/avatar': { post: ok },
      '/api/account/bio': { post: ok },
      '/api/me/addresses': { get: ok, post: ok },
      '/api/me/addresses/{id}': { get: { ...ok, parameters: idParam } },
      '/api/me/cards/create': { post: ok },
      '/api/me/cards/{id}': { get: { ...ok, parameters: idParam } },
      '/api/notes': { post: ok },
      '/api/notes/{id}': { get: { ...ok, parameters: idParam } },
      '/api/me/avatar/upload': { put: ok },
      '/v1/account/lookup': { post: ok },
      '/api/me/search': { post: ok },
    },
  });
  const op = (method: string, path: string) =>
    spec.operations.find((o) => o.method === method && o.path === path)!;

  test('a POST there is no creation, unless it creates in a documented sub-collection of one’s own', () => {
    assert.ok(ownRecordWrite(spec, op('POST', '/api/me')));
    assert.ok(ownRecordWrite(spec, op('POST', '/api/me/avatar')));
    assert.ok(ownRecordWrite(spec, op('POST', '/api/account/bio')));
    // Items the scan can find again by their own path: a creation of its own, sent as today.
    assert.ok(!ownRecordWrite(spec, op('POST', '/api/me/addresses')));
    assert.ok(!ownRecordWrite(spec, op('POST', '/api/me/cards/create')));
    assert.ok(!ownRecordWrite(spec, op('POST', '/api/notes')));
    // Only POSTs: a PUT or PATCH discovery sends only to the scan's own objects anyway.
    assert.ok(!ownRecordWrite(spec, op('PUT', '/api/me/avatar/upload')));
    // A POST there that only asks is a read.
    assert.ok(!ownRecordWrite(spec, op('POST', '/v1/account/lookup')));
    assert.ok(!ownRecordWrite(spec, op('POST', '/api/me/search')));
  });

  test('a POST whose last segment asks (lookup, search, find, check, verify, get...) and changes nothing is a read', () => {
    for (const p of [
      '/account/lookup',
      '/account/look-up',
      '/me/search',
      '/profile/findPayee',
      '/account/check-iban',
      '/account/verify',
      '/account/validate_card',
      '/account/getBalance',
      '/account/query.php',
    ])
      assert.ok(readLikePost(p), p);
    for (const p of [
      '/account/bio',
      '/account/checkout',
      '/account/check-in',
      '/me/search/delete',
      '/account/update',
      '/me',
    ])
      assert.ok(!readLikePost(p), p);
  });
});

describe('password fields', () => {
  test('a password by any usual name, not a word that only starts like one', () => {
    for (const name of [
      'password',
      'new_password',
      'userPassword',
      'passwd',
      'pwd',
      'pass',
      'passphrase',
      'confirmPass',
      'password2',
      'user_pass',
    ])
      assert.equal(passwordName(name), true, name);
    for (const name of [
      'passport_no',
      'passportNumber',
      'passenger',
      'passage',
      'compass',
      'bypass',
      'email',
    ])
      assert.equal(passwordName(name), false, name);
  });
});

describe('a sign-up whose record is in an envelope', () => {
  const doc = buildApiDocument('/s.json', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/users': {
        post: {
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    user: {
                      type: 'object',
                      properties: {
                        email: { type: 'string', format: 'email' },
                        password: { type: 'string' },
                        name: { type: 'string', example: 'alice' },
                      },
                    },
                  },
                },
              },
            },
          },
          responses: { '201': { description: 'ok' } },
        },
      },
      '/users/{id}': { get: { responses: { '200': { description: 'ok' } } } },
    },
  });
  const op = doc.operations.find((o) => o.method === 'POST')!;
  test('sets a password, and gets names and a password of the scan’s own inside the envelope', () => {
    assert.ok(setsPassword(doc, op));
    const req = withOwnAccount(doc, op, planRequest(doc, op, new ObjectRegistry()));
    const user = (req.body as { user: Record<string, string> }).user;
    assert.match(user.email, /^pcd[0-9a-f]{10}@example\.com$/);
    assert.match(user.name, /^pcd[0-9a-f]{10}$/);
    assert.match(user.password, /^Pc-/);
  });
});

test('a body names a given person only under a person member, by id, user name or e-mail (R1-C1, S3)', () => {
  const people = (v: string | number) => ['1', 'alice', 'alice@corp.test'].includes(String(v));
  assert.ok(namesPersonIn({ username: 'alice', role: 'viewer' }, people));
  assert.ok(namesPersonIn({ userId: 1 }, people));
  assert.ok(namesPersonIn({ invite: { email: 'alice@corp.test' } }, people));
  assert.ok(namesPersonIn({ member_ids: [4, 1] }, people));
  // `qty: 1` is no person, nor a title that happens to be a name.
  assert.ok(!namesPersonIn({ product_id: 9, qty: 1 }, people));
  assert.ok(!namesPersonIn({ title: 'alice', username: 'pcd1a2b3c' }, people));
});
