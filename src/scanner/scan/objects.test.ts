import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operation } from '../../core/api-document.ts';
import { ObjectRegistry, stillScanMade } from './objects.ts';

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

describe('an object the scan deleted, whose id the API may give out again', () => {
  const booking = { id: 5, holder: 'lena', locker_id: 1, note: 'portcullis-1a2b3c4d', days: 3 };
  const made = () => {
    const objects = new ObjectRegistry();
    objects.add({
      collection: '/bookings',
      path: '/bookings/5',
      id: '5',
      owner: 'lena',
      body: booking,
      createdBy,
    });
    return objects;
  };

  test('is known as deleted once a DELETE of its path answered, below it too, until the scan makes one there again', () => {
    const objects = made();
    assert.equal(objects.deletedAt('/bookings/5'), undefined);
    objects.deleteSent('/bookings/5/');
    assert.equal(objects.deletedAt('/bookings/5')?.owner, 'lena');
    assert.equal(objects.deletedAt('/bookings/5/extend?days=7')?.id, '5');
    assert.equal(objects.deletedAt('/bookings/50'), undefined);
    // Still offered until a check confirms it gone (a soft delete keeps it).
    assert.equal(objects.get('lena', '/bookings')?.id, '5');
    objects.markDeleted('/bookings/5');
    assert.equal(objects.deletedAt('/bookings/5')?.id, '5');
    objects.add({
      collection: '/bookings',
      path: '/bookings/5',
      id: '5',
      owner: 'omar',
      body: {},
      createdBy,
    });
    assert.equal(objects.deletedAt('/bookings/5'), undefined);
  });

  test('a record read there is the scan’s when it holds a value the scan made up or is much like it, else not', () => {
    assert.equal(stillScanMade({ ...booking, note: 'pcj0f1e2d3c', holder: 'lena' }, booking), true);
    assert.equal(stillScanMade({ ...booking, deleted: true }, booking), true);
    const carol = { id: 5, holder: 'carol', locker_id: 4, note: 'from the waiting list', days: 7 };
    assert.equal(stillScanMade(carol, booking), false);
    assert.equal(stillScanMade(null, booking), false);
    assert.equal(stillScanMade('gone', booking), false);
  });
});
