import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanResponse } from '../client.ts';
import { switchValues, uncovered } from './api3-switch-inputs.ts';

test('the other values of optional switches: booleans, 0/1 integers, enums, switch-named text; never a required input', () => {
  assert.deepEqual(switchValues({ type: 'boolean', default: true }, 'redact', false), ['false']);
  assert.deepEqual(switchValues({ type: 'boolean' }, 'active', false), ['true', 'false']);
  assert.deepEqual(switchValues({ type: 'integer', default: 1 }, 'Hide-Info', false), ['0']);
  assert.deepEqual(switchValues({ type: 'integer', minimum: 0, maximum: 1 }, 'x', false), ['0', '1']);
  assert.equal(switchValues({ type: 'integer', default: 20 }, 'limit', false), undefined);
  assert.equal(switchValues({ type: 'integer' }, 'page', false), undefined);
  assert.deepEqual(
    switchValues({ type: 'string', enum: ['public', 'full', 'admin'], default: 'public' }, 'view', false),
    ['full', 'admin'],
  );
  assert.deepEqual(switchValues({ type: 'string' }, 'include_private', false), ['true', 'all']);
  assert.equal(switchValues({ type: 'string' }, 'q', false), undefined);
  assert.equal(switchValues({ type: 'boolean', default: true }, 'redact', true), undefined);
});

test('what a switched answer shows under secret or contact names that the plain answer holds nowhere', () => {
  const res = (status: number, json: unknown) =>
    ({ status, json, text: JSON.stringify(json), headers: {} }) as unknown as ScanResponse;
  const plain = res(200, { id: 3, handle: 'sol' });
  assert.deepEqual(
    uncovered(plain, res(200, { id: 3, handle: 'sol', email: 'sol@x.org', api_token: 'mt_5sXk29Qa' })),
    ['/email', '/api_token'],
  );
  // Shown already, masked, or refused: nothing uncovered.
  assert.deepEqual(uncovered(res(200, { email: 'sol@x.org' }), res(200, { email: 'sol@x.org' })), []);
  assert.deepEqual(uncovered(plain, res(200, { email: '*****' })), []);
  assert.deepEqual(uncovered(plain, res(403, { email: 'sol@x.org' })), []);
  // A plain read refused, the switched one answering a token: uncovered.
  assert.deepEqual(uncovered(res(401, { error: 'sign in' }), res(200, { token: 'eyJhbGciOi.x.y' })), [
    '/token',
  ]);
});
