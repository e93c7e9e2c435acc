import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operation } from '../../../../test/kit/operation.ts';
import type { Operation } from '../../../core/api-document.ts';
import { olderVersions, versionOf } from './api9-inventory.ts';

function get(path: string): Operation {
  return { ...operation(`GET ${path}`), hasDeclaredId: false, path, pointer: '' };
}

test('a version segment is found and removed, with the parameters unnamed', () => {
  assert.deepEqual(versionOf('/api/v1/users/{id}'), { version: 1, bare: '/api/users/{}' });
  assert.equal(versionOf('/api/users'), undefined);
  assert.equal(versionOf('/api/v1beta/users'), undefined);
});

test('an older version pairs with the unversioned route, else with the highest version', () => {
  const ops = [
    '/api/v1/users',
    '/api/users',
    '/v1/notes/{id}',
    '/v2/notes/{note_id}',
    '/v3/notes/{nid}',
    '/v1/only',
  ].map(get);
  const pairs = olderVersions(ops).map(([o, c]) => `${o.path} -> ${c.path}`);
  assert.deepEqual(pairs, [
    '/api/v1/users -> /api/users',
    '/v1/notes/{id} -> /v3/notes/{nid}',
    '/v2/notes/{note_id} -> /v3/notes/{nid}',
  ]);
});
