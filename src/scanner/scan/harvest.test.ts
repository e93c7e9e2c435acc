import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CONFIRMED,
  configuredIds,
  entityOfPath,
  fits,
  Harvest,
  nameSuffixes,
  score,
  singular,
  urlValues,
} from './harvest.ts';

describe('harvested values', () => {
  test('names the entity of a path by its last literal segment, singular, without versions or me', () => {
    assert.equal(entityOfPath('/api/v2/books'), 'book');
    assert.equal(entityOfPath('/v3/users/me'), 'user');
    assert.equal(entityOfPath('/boards/{boardId}/cards'), 'card');
    assert.equal(singular('categories'), 'category');
    assert.equal(singular('addresses'), 'address');
  });

  test('scores the id of the entity a path parameter follows above a same-named value elsewhere', () => {
    const record = { key: 'id', value: 7, entity: 'pet', source: '/pets', identity: 'a', order: 0 };
    assert.equal(score({ name: 'id', context: 'pets' }, record), 4);
    assert.equal(score({ name: 'pet_id', context: 'pets' }, record), 3);
    assert.equal(score({ name: 'petId' }, record), 3);
    assert.equal(score({ name: 'id', context: 'owners' }, record), 1);
    assert.equal(score({ name: 'owner_id' }, record), 0);
    // A numbered input wants the same as its name without the number.
    assert.equal(score({ name: 'pet_id_1' }, record), 3);
  });

  test('takes an entity-qualified name harvested from that entity as strong evidence', () => {
    const product = {
      key: 'product_id',
      value: 'p-1',
      entity: 'product',
      source: '/products',
      identity: 'a',
      order: 0,
    };
    assert.equal(score({ name: 'product_id' }, product), 3);
    assert.equal(score({ name: 'product_id_2' }, product), 3);
    const elsewhere = { ...product, entity: 'order' };
    assert.equal(score({ name: 'product_id' }, elsewhere), 2);
  });

  test('a role in front of an entity-qualified name wants that name, at a plain match weight', () => {
    const record = { key: 'user_id', value: 2, entity: 'login', source: 'login', identity: 'a', order: 0 };
    assert.deepEqual(nameSuffixes('target_user_id'), ['user_id']);
    assert.deepEqual(nameSuffixes('ownerUserAccountId'), ['user_account_id', 'account_id']);
    assert.equal(score({ name: 'target_user_id', context: 'user' }, record), 2);
    assert.equal(score({ name: 'ownerUserId' }, record), 2);
    assert.equal(score({ name: 'to_account_id' }, record), 0);
    assert.equal(score({ name: 'to_account_id' }, { ...record, key: 'account_id' }), 2);
  });

  test('a user name fills a user-id parameter only below a real id, and not an integer one', () => {
    const name = {
      key: 'username',
      value: 'alice',
      entity: 'user',
      source: 'login',
      identity: 'a',
      order: 0,
    };
    assert.equal(score({ name: 'userID', context: 'profile' }, name), 2);
    assert.equal(score({ name: 'id', context: 'profile' }, name), 2);
    assert.equal(score({ name: 'id', context: 'products' }, name), 0);
    assert.equal(score({ name: 'productId' }, name), 0);
    const h = new Harvest();
    h.add({ key: 'username', value: 'alice', entity: 'user', source: 'login', identity: 'a' });
    assert.equal(
      h.best({ name: 'userID', context: 'profile', schema: { type: 'string' } }, 'a')?.value,
      'alice',
    );
    assert.equal(h.best({ name: 'userID', context: 'profile', schema: { type: 'integer' } }, 'a'), undefined);
    h.add({ key: 'id', value: 'u-17', entity: 'user', source: '/users/me', identity: 'a' });
    assert.equal(
      h.best({ name: 'userID', context: 'profile', schema: { type: 'string' } }, 'a')?.value,
      'u-17',
    );
  });

  test("a value from an identity's own login stays its own after others have seen it", () => {
    const h = new Harvest();
    h.setOrdinary(['a', 'b']);
    h.add({ key: 'account_id', value: 'AC-1', entity: 'login', source: 'login', identity: 'a' });
    h.add({ key: 'account_id', value: 'AC-1', entity: 'member', source: '/members/{id}', identity: 'b' });
    assert.equal(h.exclusiveTo('a', 'AC-1'), false);
    assert.equal(h.ownLoginValue('a', 'AC-1'), true);
    assert.equal(h.ownLoginValue('b', 'AC-1'), false);
    h.add({ key: 'role', value: 'member', entity: 'login', source: 'login', identity: 'a' });
    h.add({ key: 'role', value: 'member', entity: 'login', source: 'login', identity: 'b' });
    assert.equal(h.ownLoginValue('a', 'member'), false);
  });

  test('rejects values that do not fit the parameter schema', () => {
    assert.equal(fits('bk-1', { type: 'integer' }), false);
    assert.equal(fits('12', { type: 'integer' }), true);
    assert.equal(fits('abc', { type: 'string', format: 'uuid' }), false);
    assert.equal(fits('6b15910c1c0c4d10d278a075', { type: 'string', pattern: '^[0-9a-f]{24}$' }), true);
    assert.equal(fits('x', { enum: ['dog', 'cat'] }), false);
  });

  test('records list items under the collection and nested objects under their property', () => {
    const h = new Harvest();
    h.record('alice', '/api/boards', { success: true, data: [{ _id: 'b1', owner: { id: 'u1' } }] });
    // MongoDB's `_id` is the board's id.
    assert.equal(h.best({ name: 'boardId', context: 'boards' }, 'alice')?.value, 'b1');
    assert.equal(h.best({ name: 'ownerId' }, 'alice')?.value, 'u1');
  });

  test('JSON:API answers: attributes belong to the resource, related resources to their own type', () => {
    const h = new Harvest();
    h.record('alice', '/api/v1/accounts/{id}', {
      data: {
        type: 'accounts',
        id: '31',
        attributes: { number: 'LD-0031', balance: 10 },
        relationships: { owner: { data: { type: 'users', id: '7' } } },
      },
      included: [{ type: 'users', id: '7', attributes: { email: 'a@x.test' } }],
    });
    assert.equal(h.best({ name: 'id', context: 'accounts' }, 'alice')?.value, '31');
    assert.equal(h.best({ name: 'number', context: 'accounts' }, 'alice')?.value, 'LD-0031');
    assert.equal(h.best({ name: 'id', context: 'users' }, 'alice')?.value, '7');
    assert.equal(h.best({ name: 'userId' }, 'alice')?.value, '7');
  });

  test('tells values only one ordinary identity saw from shared ones', () => {
    const h = new Harvest();
    h.setOrdinary(['alice', 'bob']);
    h.record('alice', '/notes', [{ id: 1 }, { id: 2 }]);
    h.record('bob', '/notes', [{ id: 2 }]);
    h.record('admin', '/notes', [{ id: 1 }]);
    assert.equal(h.exclusiveTo('alice', 1), true); // the admin does not count
    assert.equal(h.exclusiveTo('alice', 2), false);
    const best = h.best({ name: 'id', context: 'notes' }, 'alice');
    assert.deepEqual([best?.value, best?.exclusive], [1, true]);
  });

  test('takes the last segment of a Location header as an id', () => {
    const h = new Harvest();
    h.record('a', '/things', undefined, '/things/t-9');
    assert.equal(h.best({ name: 'thingId', context: 'things' }, 'a')?.value, 't-9');
  });
});

describe('echoes of the request', () => {
  test('takes the values of a URL (path segments and query) as echoes, and does not record them', () => {
    const echoes = urlValues('/api/transactions/acc%201?account_number=x-1&page=');
    assert.deepEqual([...echoes].sort(), ['acc 1', 'api', 'transactions', 'x-1']);
    const h = new Harvest();
    h.record('alice', '/api/transactions', { account_number: 'x-1', id: 9 }, undefined, echoes);
    const values = h.candidates({ name: 'account_number', context: '', schema: {} }, 'alice', 0);
    assert.ok(!values.some((c) => c.value === 'x-1'), JSON.stringify(values));
    assert.equal(h.exclusiveTo('alice', 9), true);
  });
});

describe('ids an identity was configured with', () => {
  test('headers and cookies whose names say they carry the caller id, with id-shaped values', () => {
    const cookies = new Map([
      ['uid', '41'],
      ['session_id', 'f00dfeed'],
    ]);
    assert.deepEqual(
      configuredIds(
        {
          'x-user-id': '2',
          'x-account': 'ac-77',
          'x-username': 'alice',
          authorization: 'Bearer abc.def.ghi',
          'x-api-key': 'k-123',
          'x-tenant-id': '1',
          cookie: 'member_no=9; theme=dark',
        },
        cookies,
      ),
      [
        { key: 'user_id', value: '2', from: 'its x-user-id header' },
        { key: 'account_id', value: 'ac-77', from: 'its x-account header' },
        { key: 'username', value: 'alice', from: 'its x-username header' },
        { key: 'member_no', value: '9', from: 'its member_no cookie' },
        { key: 'uid', value: '41', from: 'its uid cookie' },
      ],
    );
    // A name is no id: `X-User: alice` says nothing a user-id parameter could take.
    assert.deepEqual(configuredIds({ 'x-user': 'alice' }), []);
  });

  test('an object the answers showed an identity owns is its own in that entity only', () => {
    const h = new Harvest();
    h.setOrdinary(['a', 'b']);
    h.add({ key: 'order_id', value: '2', entity: 'order', source: 'owned', identity: 'a' });
    h.add({ key: 'quantity', value: 2, entity: 'item', source: '/items', identity: 'b' });
    assert.equal(h.ownValue('a', '2', 'order'), true);
    assert.equal(h.ownValue('a', '2', 'product'), false);
    assert.equal(h.ownValue('b', '2', 'order'), false);
    assert.equal(h.exclusiveTo('a', '2'), false);
  });
});

describe("an id given about itself is the identity's own in its entity only, when asked so", () => {
  test('user 2 is not shop 2', () => {
    const h = new Harvest();
    h.add({ key: 'id', value: 2, entity: 'user', source: 'login', identity: 'bob' });
    h.add({ key: 'shop_id', value: '2', entity: 'shop', source: CONFIRMED, identity: '' });
    assert.equal(h.ownLoginValue('bob', '2'), true);
    assert.equal(h.ownLoginValue('bob', '2', 'user'), true);
    assert.equal(h.ownLoginValue('bob', '2', 'shop'), false);
    assert.equal(h.ownLoginValue('alice', '2', 'user'), false);
  });
});
