import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { templatePath } from './template.ts';

describe('templatePath', () => {
  test('templates numeric, UUID, hex, e-mail and token segments and numbers repeats', () => {
    assert.equal(templatePath('/users/42/orders/7'), '/users/{id}/orders/{id2}');
    assert.equal(templatePath('/files/3f2504e0-4f89-11d3-9a0c-0305e82c3301'), '/files/{uuid}');
    assert.equal(templatePath('/objects/5f1d7c0e9b1e8a3d2c4b6a79/raw'), '/objects/{hex}/raw');
    assert.equal(templatePath('/people/ann@example.com'), '/people/{email}');
    assert.equal(templatePath('/reset/aZ9_k3LmN0pQ7rS2tU5vW8xY'), '/reset/{token}');
  });

  test('keeps words, versions and short mixed segments as they are', () => {
    assert.equal(templatePath('/v2/users/me/settings'), '/v2/users/me/settings');
    assert.equal(templatePath('/api/deadbeef-free/abc123'), '/api/deadbeef-free/abc123');
  });

  test('drops the query string and empty segments', () => {
    assert.equal(templatePath('/users//42/?q=1'), '/users/{id}');
    assert.equal(templatePath('/'), '/');
  });

  test('bounds the template of a very long path', () => {
    const t = templatePath('/a'.repeat(100));
    assert.equal(t.split('/').length, 34);
    assert.ok(t.endsWith('/{rest}'));
  });
});
