import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operation } from '../../core/api-document.ts';
import { ObjectRegistry } from './objects.ts';

const createdBy = { method: 'POST', path: '/v1/user/' } as unknown as Operation;

describe('objects the scan created, after one was deleted', () => {
  test('a deleted user is no longer offered, nor its id or e-mail; a product with the same id still is', () => {
    const objects = new ObjectRegistry();
    for (const [id, email] of [
      ['7', 'pc1a2b3c4d@example.com'],
      ['8', 'pc5e6f7a8b@example.com'],
    ]) {
      objects.add({
        collection: '/v1/user',
        path: `/v1/user/${id}`,
        id,
        owner: 'alice',
        body: { id: Number(id), email, role: 'user' },
        createdBy,
      });
      objects.harvest.record('alice', '/v1/user/', { id: Number(id), email, role: 'user' });
    }
    objects.harvest.record('alice', '/v1/products', [{ id: 7, name: 'lamp' }]);
    assert.equal(objects.get('alice', '/v1/user')?.id, '7');
    assert.equal(objects.harvest.best({ name: 'email' }, 'alice')?.value, 'pc5e6f7a8b@example.com');

    objects.markDeleted('/v1/user/8');
    objects.markDeleted('/v1/user/7');

    assert.equal(objects.get('alice', '/v1/user'), undefined);
    assert.deepEqual(objects.of('alice'), []);
    assert.equal(objects.harvest.best({ name: 'email' }, 'alice'), undefined);
    assert.deepEqual(
      objects.harvest.candidates({ name: 'id', context: 'user' }, 'alice', 1).map((c) => c.record.entity),
      ['product'],
    );
    // A value every user shares (`user`) is not retired, and the paths still count as the scan's own.
    assert.equal(objects.harvest.best({ name: 'role' }, 'alice')?.value, 'user');
    assert.equal(objects.isScanCreated('/v1/user/7'), true);
  });

  test('a delete at the item route with a trailing slash retires the object recorded without one', () => {
    const objects = new ObjectRegistry();
    objects.add({ collection: '/tickets', path: '/tickets/7', id: '7', owner: 'alice', body: {}, createdBy });
    objects.add({
      collection: '/tickets',
      path: '/tickets/70',
      id: '70',
      owner: 'alice',
      body: {},
      createdBy,
    });
    objects.markDeleted('/tickets/7/');
    assert.deepEqual(
      objects.of('alice').map((o) => o.id),
      ['70'],
    );
  });

  test('a delete of another object changes nothing', () => {
    const objects = new ObjectRegistry();
    objects.add({ collection: '/notes', path: '/notes/1', id: '1', owner: 'bob', body: {}, createdBy });
    objects.markDeleted('/notes/10');
    assert.equal(objects.get('bob', '/notes')?.id, '1');
  });
});
